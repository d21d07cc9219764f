"""JupyterHub for a class on one server: local users, one JupyterLab server each, the course
installed once, a copy of the lessons for each learner. docs/instructor.md walks through it.

    cd /opt/halab && sudo jupyterhub -f deploy/jupyterhub_config.py

- **Who logs in**: the machine's own users (PAM), those in the group ``halab`` (learners) and
  the instructor named by ``HALAB_INSTRUCTOR`` (an admin of the hub).
- **Their server**: JupyterHub's ``LocalProcessSpawner`` starts one ``jupyterhub-singleuser``
  per learner, as that learner's own system user, so the files of one are not the files of
  another and each learner's processes are theirs to see and kill.
- **The course**: installed once, in ``HALAB_COURSE`` (``/opt/halab``), with the venv the hub
  runs from; every learner imports halab from there.
- **Their copy**: before each start, ``python -m halab.handout`` runs *as the learner* and makes
  or updates ``~/halab`` (notebooks/, exercises/, tests/exercises/) from the course: files they
  never touched follow the course, files they changed are kept (``halab/handout.py``). A spawner
  hook rather than nbgitpuller: it needs no git repository the servers can reach and no extra
  package, it copies from the very checkout halab is imported from (lessons and library cannot
  drift apart), and it runs with the learner's rights, never root's, inside their home.
- **Limits**: ``prlimit --nproc`` caps each learner's processes and threads (RLIMIT_NPROC
  counts every task of the user), so a runaway loop of ``LiveCluster().start()`` cannot exhaust
  the machine. Memory and CPU caps need cgroups, which LocalProcessSpawner does not set: on one
  server use The Littlest JupyterHub (systemdspawner: ``c.SystemdSpawner.mem_limit``), on
  Kubernetes ``deploy/z2jh-values.yaml``; both take the figures measured by ``make bench``
  (``bench_learner``).
- **Live lessons on a shared host**: every learner's clusters bind 127.0.0.1, which all users
  share; each cluster's fault switches and admin paths answer only its own secret, so one
  learner cannot flip another's (``tests/test_hub.py`` checks it on a real hub).
"""

import os
import pwd
import subprocess
import sys

c = get_config()  # noqa: F821 (JupyterHub provides get_config to its config files)

COURSE = os.environ.get("HALAB_COURSE", "/opt/halab")
INSTRUCTOR = os.environ.get("HALAB_INSTRUCTOR", "instructor")
# tasks (processes and threads) per learner: at most 184 in the lessons `make bench` measures
# (bench_learner: lesson 06 and the engine lessons 04, 05, 07, 08); 1024 leaves ample room
NPROC = int(os.environ.get("HALAB_NPROC", "1024"))

c.JupyterHub.bind_url = os.environ.get("HALAB_HUB_URL", "http://:8000")  # put TLS in front
c.JupyterHub.authenticator_class = "pam"
c.PAMAuthenticator.allowed_groups = {"halab"}
c.Authenticator.allowed_users = {INSTRUCTOR}  # besides the group
c.Authenticator.admin_users = {INSTRUCTOR}

c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [
    "prlimit",
    f"--nproc={NPROC}",
    "--",
    os.path.join(sys.prefix, "bin", "jupyterhub-singleuser"),
]
c.Spawner.notebook_dir = "~/halab"
c.Spawner.default_url = "/lab/tree/notebooks/00_welcome.ipynb"
c.Spawner.environment = {"HALAB_COURSE": COURSE}
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 60


def hand_out(spawner):
    """Make or update the learner's ``~/halab`` from the course, as the learner."""
    user = pwd.getpwnam(spawner.user.name)
    done = subprocess.run(
        [sys.executable, "-m", "halab.handout", COURSE, os.path.join(user.pw_dir, "halab")],
        user=user.pw_uid,
        group=user.pw_gid,
        extra_groups=[],
        cwd=user.pw_dir,
        env={"HOME": user.pw_dir, "PATH": "/usr/bin:/bin", "PYTHONPATH": COURSE},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    spawner.log.info("halab hand-out for %s: %s", user.pw_name, done.stdout.strip())
    if done.returncode:
        raise RuntimeError(f"halab hand-out failed for {user.pw_name}: {done.stdout}{done.stderr}")


c.Spawner.pre_spawn_hook = hand_out
