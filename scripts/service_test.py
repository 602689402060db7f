#!/usr/bin/env python3
"""Day one on a real server: boots Debian 12's systemd in a container and follows the README's
"Run it as a service" section step for step, then checks what an administrator and the editors
rely on (READY and STATUS, journal priorities, editors' files, two levels of access, reload with a
good and a bad config, a config error that is not restarted, stop time, the unit's exposure).

    scripts/service_test.py                  build the release binaries, then run (root)
    scripts/service_test.py --bin DIR        use binaries built with --static-swift-stdlib
    scripts/service_test.py --deb FILE       also install that package in a second container,
                                             upgrade it over itself and remove it (--deb build:
                                             make it with scripts/package-deb.sh)

The container root is made once with mmdebstrap from this machine's apt sources and kept in
--cache, keyed by its package list; the container boots it with a throwaway overlay, so every
run starts from the same root. The container is stopped by PID at the end, whatever happened.
"""
import argparse
import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

PACKAGES = ["systemd", "systemd-sysv", "dbus", "libsqlite3-0", "libzstd1", "libstdc++6", "procps", "passwd"]
ROOT_FORMAT = "1"  # bump when the way the root is made changes
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
ARTICLES = "/srv/newsroom/articles"
CONFIG = "/etc/newsd/newsd.toml"


class Failed(Exception):
    pass


def log(text):
    print(text, flush=True)


def container_root(cache):
    """The cached root for PACKAGES, made when missing (one maker at a time)."""
    key = hashlib.sha256((ROOT_FORMAT + " " + " ".join(PACKAGES)).encode()).hexdigest()[:12]
    root = os.path.join(cache, f"root-{key}")
    os.makedirs(cache, exist_ok=True)
    with open(os.path.join(cache, "lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.isfile(os.path.join(root, "usr/lib/systemd/systemd")):
            log(f"== container root {root} (cached)")
            return root
        for old in os.listdir(cache):
            if old.startswith("root-") and ".tmp" in old:
                shutil.rmtree(os.path.join(cache, old), ignore_errors=True)
        temp = f"{root}.tmp{os.getpid()}"
        started = time.monotonic()
        result = subprocess.run(["mmdebstrap", "--variant=minbase", "--include=" + ",".join(PACKAGES), "bookworm", temp],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=900)
        if result.returncode != 0:
            shutil.rmtree(temp, ignore_errors=True)
            raise Failed("mmdebstrap failed:\n" + result.stdout[-3000:])
        os.rename(temp, root)
        log(f"== container root {root} made in {time.monotonic() - started:.0f} s")
        return root


def release_binaries(repo):
    scratch = os.path.join(repo, ".build-release")
    build = ["swift", "build", "-c", "release", "--static-swift-stdlib", "--scratch-path", scratch]
    path = subprocess.run(build + ["--show-bin-path"], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()
    for product in ("newsd", "newsctl"):
        # A build without --static-swift-stdlib into the same folder (swift-argument-parser's plugins
        # do one) leaves a binary SwiftPM takes as up to date: relink it.
        binary = os.path.join(path, product)
        if os.path.exists(binary) and "libswiftCore" in subprocess.run(["ldd", binary], capture_output=True, text=True).stdout:
            os.unlink(binary)
        subprocess.run(build + ["--product", product], cwd=repo, check=True, stdout=subprocess.DEVNULL)
    return path


def stage_repository(repo, binaries, into):
    """A copy of the repository as a server would get it: its files, and the release binaries
    where the README says they are."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=repo, check=True,
                           capture_output=True).stdout.decode().split("\0")
    for name in filter(None, files):
        source = os.path.join(repo, name)
        if not os.path.isfile(source):
            continue
        target = os.path.join(into, name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(source, target)
    os.makedirs(os.path.join(into, ".build/release"))
    for program in ("newsd", "newsctl"):
        shutil.copy2(os.path.join(binaries, program), os.path.join(into, ".build/release", program))


def service_section(readme):
    """The commands of the README's service section, in order (comments stripped)."""
    text = open(readme, encoding="utf-8").read()
    match = re.search(r"^## Run it as a service\n(.*?)(?=^## )", text, re.S | re.M)
    if not match:
        raise Failed("README has no '## Run it as a service' section")
    block = re.search(r"```sh\n(.*?)```", match.group(1), re.S)
    if not block:
        raise Failed("the service section has no ```sh block")
    commands = []
    for line in block.group(1).splitlines():
        command = re.sub(r"\s+#.*$", "", line).strip()
        if command and not command.startswith("#"):
            commands.append(command)
    return commands


def _terminate_with_parent():
    """nspawn gets SIGTERM (and powers the container off) if this script dies, even by SIGKILL."""
    import ctypes
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Container:
    def __init__(self, root, src, work, binds=()):
        self.name = f"newsd-test-{os.getpid()}"
        self.console = open(os.path.join(work, "console.log"), "w")
        self.leader = None
        self.process = subprocess.Popen(
            ["systemd-nspawn", "--quiet", "-D", root, "--volatile=overlay", "--boot", "--register=no", "--keep-unit",
             "--private-network", f"--machine={self.name}", "--console=passive", f"--bind-ro={src}:/src"]
            + [f"--bind-ro={host}:{inside}" for host, inside in binds],
            stdin=subprocess.DEVNULL, stdout=self.console, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=_terminate_with_parent)
        try:
            self._boot()
        except BaseException:
            self.stop()
            raise

    def _boot(self):
        deadline = time.monotonic() + 30
        while self.leader is None and time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise Failed(f"systemd-nspawn exited {self.process.returncode}: " + open(self.console.name).read()[-2000:])
            children = subprocess.run(["ps", "-o", "pid=,comm=", "--ppid", str(self.process.pid)], capture_output=True, text=True).stdout
            for line in children.splitlines():
                pid, comm = line.split(None, 1)
                if comm.strip() == "systemd":
                    self.leader = int(pid)
            time.sleep(0.1)
        if self.leader is None:
            raise Failed("the container's systemd did not start")
        def booted():
            state = self.run("systemctl is-system-running --wait", check=False, timeout=120).stdout.strip()
            return state if state in ("running", "degraded") else None
        state = wait_for("the container's systemd to finish booting", booted, timeout=120, interval=0.5)
        log(f"== booted {self.name}: systemd as pid {self.leader}, system {state}")

    def run(self, command, user=None, check=True, timeout=60, env=None):
        """A shell command inside the container, as root or as `user` (with that user's groups)."""
        variables = ["PATH=" + PATH, "LANG=C.UTF-8", "HOME=/root" if user is None else f"HOME=/home/{user}", "TERM=dumb",
                     "SYSTEMD_PAGER=", "SYSTEMD_COLORS=0"] + [f"{k}={v}" for k, v in (env or {}).items()]
        shell = ["sh", "-c", f"cd /src && {command}"]
        if user is not None:
            shell = ["runuser", "-u", user, "--"] + shell
        argv = ["nsenter", "-t", str(self.leader), "-m", "-u", "-i", "-n", "-p", "--", "env", "-i"] + variables + shell
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise Failed(f"`{command}`{' as ' + user if user else ''} exited {result.returncode}:\n{result.stdout}{result.stderr}")
        return result

    def show(self, *properties):
        out = self.run("systemctl show newsd -p " + ",".join(properties)).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def journal(self, since_cursor=None):
        """newsd's journal entries (message, priority), from a cursor if given."""
        command = "journalctl -u newsd -o json --no-pager"
        if since_cursor:
            command += f" --after-cursor='{since_cursor}'"
        entries = [json.loads(line) for line in self.run(command).stdout.splitlines() if line.strip()]
        return entries

    def cursor(self):
        entries = self.journal()
        return entries[-1]["__CURSOR"] if entries else None

    def stop(self):
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)  # nspawn powers the container off
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.console.close()


def wait_for(what, predicate, timeout=10.0, interval=0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise Failed(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def entries_matching(entries, text):
    return [(e.get("MESSAGE", ""), int(e.get("PRIORITY", "6"))) for e in entries if text in str(e.get("MESSAGE", ""))]


def expect(condition, message):
    if not condition:
        raise Failed(message)


def stepper(results):
    """A runner for named checks: each is timed and said as ok or FAIL, and its name kept in `results`."""
    def step(name, body):
        started = time.monotonic()
        try:
            detail = body()
        except Failed as failure:
            log(f"FAIL  {name}\n      {str(failure).replace(chr(10), chr(10) + '      ')}")
            raise
        log(f"ok    {name} ({time.monotonic() - started:.1f} s){': ' + detail if detail else ''}")
        results.append(name)
    return step


def run_checks(c, steps):
    results = []
    step = stepper(results)

    # Accounts a newsroom server has before newsd: an editor, an admin, a guest outside the newsroom.
    c.run("useradd -m an && useradd -m binh && useradd -m khach")
    # $EDITOR in the README: this run's edit is naming the site.
    c.run("printf '#!/bin/sh\\nsed -i \"s/^# site_name = .*/site_name = \\\\\"hanoi\\\\\"/\" \"$1\"\\n' > /usr/local/bin/edit-config"
          " && chmod 755 /usr/local/bin/edit-config")

    log("-- the README's service section, step by step")
    for command in steps:
        def body(command=command):
            result = c.run(command, env={"EDITOR": "/usr/local/bin/edit-config"}, timeout=120)
            first = (result.stdout.strip().splitlines() or [""])[-1]
            return first[:160]
        step(f"$ {command}", body)

    log("-- what the administrator and editors rely on")

    def ready():
        props = c.show("ActiveState", "SubState", "StatusText", "MainPID", "NRestarts")
        expect(props["ActiveState"] == "active" and props["SubState"] == "running", f"newsd is {props}")
        expect("articles" in props["StatusText"] and "log entries" in props["StatusText"], f"STATUS is {props['StatusText']!r}")
        status = c.run("systemctl status newsd --no-pager").stdout
        expect("Status: \"" in status and "articles" in status, "systemctl status shows no STATUS line:\n" + status)
        return f"active (running), Status: \"{props['StatusText']}\""
    step("the unit reached READY; `systemctl status` shows newsd's STATUS line", ready)

    def priorities():
        entries = c.journal()
        ready_lines = entries_matching(entries, "ready: site")
        starting = entries_matching(entries, "starting: site")
        expect(ready_lines and ready_lines[0][1] == 5, f"'ready' not at notice (5): {ready_lines}")
        expect(starting and starting[0][1] == 6, f"'starting' not at info (6): {starting}")
        warnings = c.run("journalctl -u newsd -p warning --no-pager -q").stdout.strip()
        expect(warnings == "", "warnings on a clean start:\n" + warnings)
        return "starting at info, ready at notice, nothing at warning or above"
    step("journalctl -u newsd: lines at their priorities", priorities)

    article = f"{ARTICLES}/ha-noi-mua-dong.txt"

    def editor_saves():
        c.run(f"printf 'Hà Nội vào đông.\\n' > {article}", user="an")
        def recorded():
            out = c.run("newsctl log ha-noi-mua-dong.txt", user="an", check=False)
            return out.returncode == 0 and "ha-noi-mua-dong.txt" in out.stdout and out
        log_out = wait_for("the editor's save in `newsctl log`", recorded, timeout=5)
        status = c.run("newsctl status", user="an").stdout
        expect("1 live" in status, "newsctl status as the editor:\n" + status)
        return "newsctl log and newsctl status as `an`, no flags: " + log_out.stdout.strip().splitlines()[-1][:100]
    step("an editor (group newsd) saves an article; newsctl status and log show it", editor_saves)

    def access_levels():
        refused = c.run("newsctl restore ha-noi-mua-dong.txt~1", user="an", check=False)
        expect(refused.returncode == 5 and "newsd-admin" in refused.stderr, "an editor's restore was not refused by group:\n"
               + refused.stdout + refused.stderr)
        guest = c.run("newsctl status", user="khach", check=False)
        expect(guest.returncode != 0 and "permission denied" in guest.stderr and "group newsd" in guest.stderr,
               "a non-member's newsctl:\n" + guest.stderr)
        entries = c.journal()
        expect(entries_matching(entries, "refused restore from an"), "the refusal is not in the journal")
        return f"editor: {refused.stderr.strip()[:90]}…; guest: {guest.stderr.strip()[:70]}…"
    step("two levels of access: an editor may not restore; a non-member may not read", access_levels)

    def files_editors_can_edit():
        c.run(f"mkdir -p {ARTICLES}/the-thao && printf 'Bóng đá.\\n' > {ARTICLES}/the-thao/bong-da.txt", user="an")
        wait_for("the new article", lambda: "the-thao/bong-da.txt" in c.run("newsctl log the-thao/bong-da.txt", user="an", check=False).stdout)
        c.run(f"rm -r {ARTICLES}/the-thao", user="an")
        wait_for("the delete", lambda: " delete " in c.run("newsctl log the-thao/bong-da.txt", user="an", check=False).stdout)
        c.run("newsctl restore the-thao/bong-da.txt", user="binh")
        wait_for("the restored file", lambda: c.run(f"test -f {ARTICLES}/the-thao/bong-da.txt", check=False).returncode == 0)
        folder = c.run(f"stat -c '%a %G' {ARTICLES}/the-thao").stdout.strip()
        file = c.run(f"stat -c '%a %G' {ARTICLES}/the-thao/bong-da.txt").stdout.strip()
        expect(folder == "2775 newsd", f"restored folder is {folder}")
        expect(file == "664 newsd", f"restored file is {file}")
        c.run(f"printf 'Thêm một dòng.\\n' >> {ARTICLES}/the-thao/bong-da.txt && printf 'x\\n' > {ARTICLES}/the-thao/moi.txt", user="an")
        expect(entries_matching(c.journal(), "restore asked by binh"), "the admin's restore is not logged with the user")
        return f"folder {folder}, file {file}; the editor appended and made a file beside it"
    step("an admin (newsd-admin) restores a deleted folder; editors can keep editing it", files_editors_can_edit)

    def reloads():
        pid = c.show("MainPID")["MainPID"]
        c.run(f"sed -i 's/^log_level = .*/log_level = \"debug\"/' {CONFIG} && systemctl reload newsd")
        wait_for("the reload", lambda: entries_matching(c.journal(), "reloaded /etc/newsd/newsd.toml"))
        good = c.show("StatusText")["StatusText"]
        cursor = c.cursor()
        c.run(f"cp {CONFIG} /root/good.toml && sed -i 's/^mass_delete_fraction = .*/mass_delete_fraction = 7/' {CONFIG}")
        bad = c.run("systemctl reload newsd", check=False)
        expect(bad.returncode != 0, "a reload with a bad config succeeded")
        props = c.show("StatusText", "MainPID", "ActiveState")
        expect(props["MainPID"] == pid and props["ActiveState"] == "active", f"newsd did not stay up: {props}")
        expect("reload refused" in props["StatusText"], f"STATUS after the refused reload: {props['StatusText']!r}")
        refused = entries_matching(c.journal(cursor), "reload refused")
        expect(refused and all(p == 3 for _, p in refused), f"the refusal in the journal: {refused}")
        # newsd's own status lines (every 15 s here) keep saying so until a reload passes.
        time.sleep(16)
        later = c.show("StatusText")["StatusText"]
        expect("reload refused" in later and "articles" in later, f"STATUS 16 s after the refusal: {later!r}")
        c.run(f"cp /root/good.toml {CONFIG} && systemctl reload newsd")
        expect(c.run("test ! -e /run/newsd/reload-refused", check=False).returncode == 0, "the refusal is left after a good reload")
        wait_for("STATUS without the refusal", lambda: "reload refused" not in c.show("StatusText")["StatusText"], timeout=20)
        return f"good: STATUS {good!r}; bad: `systemctl reload` exited {bad.returncode}, STATUS {props['StatusText'][:80]!r}, same pid"
    step("systemctl reload with a good config, then a bad one", reloads)

    def another_group():
        # A newsroom whose articles belong to its own group: `group`, the drop-in's
        # SupplementaryGroups=, and fchown through the unit's system call filter.
        c.run("groupadd toasoan && usermod -aG toasoan an")
        c.run(f"sed -i 's/^# group = .*/group = \"toasoan\"/' {CONFIG}")
        c.run(f"newsd check-config --quiet --config {CONFIG} --unit-dropin /etc/systemd/system/newsd.service.d/50-folder.conf")
        dropin = c.run("cat /etc/systemd/system/newsd.service.d/50-folder.conf").stdout
        expect("SupplementaryGroups=toasoan" in dropin, "drop-in:\n" + dropin)
        c.run("systemctl daemon-reload && systemctl restart newsd")
        wait_for("READY", lambda: c.show("SubState")["SubState"] == "running")
        c.run(f"rm {ARTICLES}/ha-noi-mua-dong.txt", user="an")
        wait_for("the delete", lambda: " delete " in c.run("newsctl log ha-noi-mua-dong.txt", user="an", check=False).stdout)
        c.run("newsctl restore ha-noi-mua-dong.txt", user="binh")
        wait_for("the restored file", lambda: c.run(f"test -f {article}", check=False).returncode == 0)
        mode = c.run(f"stat -c '%a %G' {article}").stdout.strip()
        expect(mode == "664 toasoan", f"restored file is {mode}")
        warnings = c.run("journalctl -u newsd -p warning --no-pager -q").stdout.strip()
        expect("cannot give files group" not in warnings, warnings)
        c.run(f"sed -i 's/^group = .*/# group = \"newsd\"/' {CONFIG}")
        c.run(f"newsd check-config --quiet --config {CONFIG} --unit-dropin /etc/systemd/system/newsd.service.d/50-folder.conf"
              " && systemctl daemon-reload && systemctl restart newsd")
        wait_for("READY", lambda: c.show("SubState")["SubState"] == "running")
        return f"group = \"toasoan\": drop-in adds SupplementaryGroups=toasoan; a restored file is {mode}"
    step("files get the configured group through the unit's sandbox", another_group)

    def security():
        out = c.run("systemd-analyze security newsd --no-pager").stdout
        match = re.search(r"Overall exposure level for newsd.service: ([0-9.]+)", out)
        expect(match is not None, "no exposure level:\n" + out[-500:])
        level = float(match.group(1))
        expect(level <= 2.0, f"exposure {level} > 2.0")
        return f"exposure {level}"
    step("systemd-analyze security newsd on the running unit ≤ 2.0", security)

    def config_error():
        cursor = c.cursor()
        c.run(f"echo 'colour = \"red\"' >> {CONFIG}")
        c.run("systemctl restart newsd", check=False)
        time.sleep(7)  # longer than RestartSec=5s: a restart would have happened
        props = c.show("ActiveState", "ExecMainStatus", "NRestarts", "Result")
        expect(props["ExecMainStatus"] == "78", f"exit status {props}")
        expect(props["NRestarts"] == "0" and props["ActiveState"] == "failed", f"restarted on a config error: {props}")
        lines = entries_matching(c.journal(cursor), "cannot start")
        expect(lines and lines[0][1] == 3 and "unknown key 'colour'" in lines[0][0], f"the reason in the journal: {lines}")
        c.run(f"cp /root/good.toml {CONFIG} && systemctl start newsd")
        return f"exit 78, not restarted, journal: {lines[0][0][:90]!r}"
    step("a config error exits 78 at error priority and is not restarted", config_error)

    def stops():
        times = []
        for _ in range(2):
            c.run("systemctl is-active newsd || systemctl start newsd")
            wait_for("READY", lambda: c.show("SubState")["SubState"] == "running")
            started = time.monotonic()
            c.run("systemctl stop newsd")
            times.append(time.monotonic() - started)
            props = c.show("Result", "ExecMainStatus", "ActiveState")
            expect(props["Result"] == "success" and props["ExecMainStatus"] == "0", f"stop: {props}")
            c.run("systemctl start newsd")
        expect(max(times) < 2.0, f"stop took {max(times):.1f} s")
        return "right after a start: " + ", ".join(f"{t:.2f} s" for t in times) + ", exit 0"
    step("systemctl stop exits cleanly in under 2 s", stops)
    return results


def run_package_checks(c, deb):
    results = []
    step = stepper(results)
    package = "/pkg/" + os.path.basename(deb)

    log("-- the Debian package: install, start, upgrade over itself, remove, purge")

    def install():
        out = c.run(f"apt-get install -y -q {package}", timeout=180).stdout
        groups = c.run("getent group newsd newsd-admin | cut -d: -f1 | tr '\\n' ' '").stdout.strip()
        expect(groups == "newsd newsd-admin", f"groups: {groups!r}")
        config = c.run("stat -c '%U:%G %a' /etc/newsd/newsd.toml").stdout.strip()
        expect(config == "root:newsd 640", f"config is {config}")
        state = c.run("systemctl is-enabled newsd; systemctl is-active newsd", check=False).stdout.split()
        expect(state == ["disabled", "inactive"], f"a fresh install started or enabled newsd: {state}")
        expect(c.run("test -f /etc/systemd/system/newsd.service.d/50-folder.conf", check=False).returncode == 0, "no drop-in")
        expect(c.run("man -w newsd newsctl 2>/dev/null || ls /usr/share/man/man1/newsd.1.gz /usr/share/man/man1/newsctl.1.gz",
                     check=False).returncode == 0, "no man pages")
        return f"users and groups made, config {config}, newsd {state[0]} and {state[1]} until configured"
    step(f"apt-get install {package}", install)

    def start():
        c.run(f"install -d -o root -g newsd -m 2775 {ARTICLES} && systemctl enable --now newsd")
        wait_for("READY", lambda: c.show("SubState")["SubState"] == "running")
        status = c.run("newsctl status").stdout
        expect("state       ready" in status, status)
        return "active (running); newsctl status: ready"
    step("systemctl enable --now newsd on the packaged unit", start)

    def upgrade():
        pid = c.show("MainPID")["MainPID"]
        c.run(f"sed -i 's/^# site_name = .*/site_name = \"danang\"/' {CONFIG}")
        c.run(f"dpkg -i {package}", timeout=180)
        wait_for("newsd back after the upgrade", lambda: c.show("SubState", "MainPID")["MainPID"] not in ("0", pid)
                 and c.show("SubState")["SubState"] == "running", timeout=20)
        kept = c.run(f"grep -c '^site_name = \"danang\"' {CONFIG}").stdout.strip()
        expect(kept == "1", "the edited config was not kept")
        return f"restarted (pid {pid} → {c.show('MainPID')['MainPID']}), the edited config kept"
    step("dpkg -i the same package again (an upgrade over itself)", upgrade)

    def remove():
        c.run("apt-get remove -y -q newsd", timeout=120)
        state = c.run("systemctl is-active newsd", check=False).stdout.strip()
        expect(state in ("inactive", "unknown"), f"newsd is {state} after removal")
        expect(c.run("test -e /usr/bin/newsd", check=False).returncode != 0, "/usr/bin/newsd is left")
        expect(c.run("test -f /var/lib/newsd/log.sqlite && test -f /etc/newsd/newsd.toml", check=False).returncode == 0,
               "data or config removed by remove")
        c.run("dpkg --purge newsd", timeout=120)
        expect(c.run("test -e /etc/newsd/newsd.toml", check=False).returncode != 0, "purge left the config")
        expect(c.run("test -f /var/lib/newsd/log.sqlite", check=False).returncode == 0, "purge removed the log")
        return "stopped and removed; the config went with purge; the log is kept"
    step("apt-get remove, then dpkg --purge", remove)
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    parser.add_argument("--bin", help="release binaries (default: build them into .build-release)")
    parser.add_argument("--cache", default=os.environ.get("NEWSD_TEST_CACHE", "/var/cache/newsd-test"))
    parser.add_argument("--keep", action="store_true", help="keep the staging folder and console log")
    parser.add_argument("--deb", default="auto",
                        help="a package to test too; 'build' makes one with scripts/package-deb.sh; 'auto' (default) uses the one "
                             "--prepare made if it is newer than the binaries, else builds; 'none' skips the package")
    parser.add_argument("--prepare", action="store_true",
                        help="only build what the test needs (release binaries, container root, package), so that a test run "
                             "beside other tests does not build (.ci/run does this first)")
    args = parser.parse_args()
    # A test runner's SIGTERM still stops the container (the finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    for tool in ("systemd-nspawn", "mmdebstrap", "nsenter"):
        if shutil.which(tool) is None:
            sys.exit(f"service_test: {tool} is missing (apt-get install systemd-container mmdebstrap)")
    if os.geteuid() != 0:
        sys.exit("service_test: must run as root (it boots a container)")
    started = time.monotonic()
    binaries = args.bin or release_binaries(args.repo)
    root = container_root(args.cache)
    prepared = os.path.join(args.repo, ".build-release", "deb")
    if args.prepare or args.deb == "auto":
        newest = max(os.path.getmtime(os.path.join(binaries, p)) for p in ("newsd", "newsctl"))
        debs = [os.path.join(prepared, f) for f in os.listdir(prepared) if f.endswith(".deb")] if os.path.isdir(prepared) else []
        fresh = [d for d in debs if os.path.getmtime(d) >= newest]
        if fresh:
            args.deb = fresh[0]
        else:
            os.makedirs(prepared, exist_ok=True)
            for old in debs:
                os.unlink(old)
            made = subprocess.run([os.path.join(args.repo, "scripts/package-deb.sh"), "--bin", binaries], cwd=args.repo,
                                  capture_output=True, text=True, env=dict(os.environ, OUT=prepared))
            if made.returncode != 0:
                sys.exit("service_test: package-deb.sh failed:\n" + made.stdout[-3000:] + made.stderr[-3000:])
            args.deb = made.stdout.strip().splitlines()[-1]
            log(f"== built {os.path.basename(args.deb)}; lintian: " + (" ".join(made.stdout.strip().splitlines()[:-1]) or "clean"))
    if args.prepare:
        log(f"== prepared in {time.monotonic() - started:.0f} s: binaries in {binaries}, root {root}, package {args.deb}")
        return
    work = tempfile.mkdtemp(prefix="newsd-service-test.")
    container = None
    try:
        src = os.path.join(work, "src")
        stage_repository(args.repo, binaries, src)
        steps = service_section(os.path.join(args.repo, "README.md"))
        container = Container(root, src, work)
        results = run_checks(container, steps)
        container.stop()
        container = None
        if args.deb and args.deb != "none":
            deb = args.deb
            if deb == "build":
                made = subprocess.run([os.path.join(args.repo, "scripts/package-deb.sh"), "--bin", binaries], cwd=args.repo,
                                      capture_output=True, text=True, env=dict(os.environ, OUT=work))
                if made.returncode != 0:
                    raise Failed("package-deb.sh failed:\n" + made.stdout[-3000:] + made.stderr[-3000:])
                deb = made.stdout.strip().splitlines()[-1]
                log(f"== built {os.path.basename(deb)}; lintian: " + (" ".join(made.stdout.strip().splitlines()[:-1]) or "clean"))
            container = Container(root, src, work, binds=[(os.path.dirname(os.path.abspath(deb)), "/pkg")])
            results += run_package_checks(container, os.path.abspath(deb))
        log(f"== {len(results)} steps passed in {time.monotonic() - started:.0f} s")
    except Failed as failure:
        if container is not None:
            tail = container.run("journalctl -u newsd --no-pager -n 40", check=False).stdout
            log("-- newsd's journal, last lines:\n" + tail)
        log(f"== FAILED: {str(failure).splitlines()[0]}")
        sys.exit(1)
    finally:
        if container is not None:
            container.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            log(f"kept {work}")


if __name__ == "__main__":
    main()
