"""Venvs made with uv, as FuncNodes does, where uv is on PATH (it is not a
Debian package; without it these tests are skipped). uv reads the local
wheelhouse through its own environment variables."""
import os
import shutil

import pytest

from venv_util import (ACTIVATE_TIMEOUT, CREATE_PROGRESS, CREATE_TIMEOUT,
                       PYTHON, V1, V2, cmdline, error_progress,
                       installed_version, is_broadcast, progresses, run,
                       short, vh, wait_worker_pids, wheels)

assert vh and wheels  # fixtures, used by name

UV = shutil.which("uv")
pytestmark = pytest.mark.skipif(
    UV is None, reason="uv is not on PATH (not packaged for Debian; cannot "
    "be fetched offline): the uv code path is untested here")


def _uv_env(vh):
    return {"UV_NO_INDEX": "1", "UV_FIND_LINKS": vh.wh.path,
            "UV_OFFLINE": "1", "UV_PYTHON_DOWNLOADS": "never",
            "UV_NO_CACHE": "1", "UV_PYTHON_PREFERENCE": "only-system"}


def test_uv_create_and_upgrade(vh):
    vh.wh.base()
    vh.start(fnwm={"use_uv": True, "uv_python": PYTHON}, env=_uv_env(vh))

    async def body():
        c = await vh.client("A")
        uuid, tr = await vh.new_worker(c, name="uvw")
        mine = [m for m in tr if not is_broadcast(m)]
        assert progresses(mine) == CREATE_PROGRESS, short(mine)
        venv = vh.venv(uuid)
        assert vh.doc(uuid)["env_path"] == venv
        assert os.path.isfile(os.path.join(vh.data_dir(uuid),
                                           "pyproject.toml"))
        assert installed_version(venv, "funcnodes") == V1
        vh.wh.upgrades()
        tr, data = await vh.activated(c, uuid)
        assert error_progress(tr) == [], short(tr)
        assert data["uuid"] == uuid, data
        pids = await wait_worker_pids(uuid, 1)
        assert cmdline(pids[0])[0] == os.path.join(venv, "bin", "python")
        return venv

    venv = run(body(), CREATE_TIMEOUT + ACTIVATE_TIMEOUT, vh)
    assert installed_version(venv, "funcnodes") == V2
