"""`--pull missing|always` for a `registry:` image: the engine pulls the very manifest that was
read (by its digest), so the probed image is exactly the one the static facts describe."""

from __future__ import annotations

import docker.errors

from inspector.errors import InspectorError
from inspector.sources.daemon import connect


def pull_into_engine(pull_ref: str, image_id: str, policy: str) -> None:
    """Make the engine hold `image_id`, pulling `pull_ref` (HOST/REPO@DIGEST) as `policy` says:
    "missing" pulls only when the engine lacks the image, "always" pulls anyway."""
    client = connect()
    try:
        if policy == "missing":
            try:
                client.images.get(image_id)
                return
            except docker.errors.ImageNotFound:
                pass
        repository, _, digest = pull_ref.rpartition("@")
        try:
            # The engine's credentials are the user's Docker config, as for `docker pull`.
            client.images.pull(repository, tag=digest)
        except docker.errors.DockerException as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InspectorError(f"the engine could not pull {pull_ref}: {first}") from exc
        try:
            client.images.get(image_id)
        except docker.errors.ImageNotFound as exc:
            raise InspectorError(
                f"the engine pulled {pull_ref} but holds no image {image_id}: "
                "the registry's content changed between the read and the pull"
            ) from exc
    finally:
        client.close()
