#!/usr/bin/env python3
"""Validates the deployment files in deploy/ with the real tools where they run offline, and
checks what the tools cannot know: that the files agree with each other and with the cairn
binary's flags.

  check_deploy.py [--root DIR] [--cairn BIN] [CHECK ...]   CHECK: systemd compose docker kubernetes
  check_deploy.py --self-test [--cairn BIN]                  each check must fail on broken copies

  systemd     systemd-analyze verify (any message fails) and security --offline (exposure at
              most 3.0), in a scratch root with a stand-in /usr/local/bin/cairn
  compose     docker-compose config (Debian's Compose 1.29: no daemon needed), then node ids,
              one bootstrapping node, joins, fixed IPs = bound addresses, volumes
  docker      hadolint (every finding fails), then the cargo package and binary, ports, user,
              health check
  kubernetes  kubernetes-validate --strict against Kubernetes 1.29 and 1.37 (a warning, such as
              an unknown kind, fails), then the container command run by sh for pods 0, 1 and 3
              (node ids, --join target, pod-IP addresses), Services, probes, PDB, volumes, and
              the ConfigMap's cairn.toml keys against deploy/cairn.example.toml

With --cairn, every `cairn server` flag the files use must appear in `cairn server --help`.
scripts/setup.sh deploy installs the tools. Exits 1 naming every problem found.
"""

import argparse
import ipaddress
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import tomllib
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
CHECKS = ("systemd", "compose", "docker", "kubernetes")
HTTP_PORT, GRPC_PORT = 7480, 7481
# systemd-analyze security rates exposure 0.0-10.0; --threshold takes it in tenths.
MAX_EXPOSURE = 30
K8S_VERSIONS = ("1.29.0", "1.37.0")


def tool(name):
    """A tool on PATH, or in the user scripts dir where `pip install --user` puts it."""
    found = shutil.which(name)
    if found:
        return found
    user_bin = Path(sysconfig.get_path("scripts", f"{os.name}_user")) / name
    if user_bin.is_file():
        return str(user_bin)
    raise Problem(f"{name} is not installed: run scripts/setup.sh deploy")


class Problem(Exception):
    pass


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def server_flags(cairn):
    """The long flags `cairn server --help` lists (None without a binary: not checked)."""
    if cairn is None:
        return None
    out = run([cairn, "server", "--help"])
    if out.returncode != 0:
        raise Problem(f"{cairn} server --help failed: {out.stderr}")
    return set(re.findall(r"(--[a-z][a-z0-9-]*)", out.stdout)) - {"--help"}


def flag_value(argv, flag):
    """The value of `--flag V` or `--flag=V` in argv (None when absent)."""
    for i, a in enumerate(argv):
        if a == flag and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith(flag + "="):
            return a.split("=", 1)[1]
    return None


def check_server_argv(argv, flags, where, problems):
    """argv after the binary: `server` and known flags only."""
    if not argv or argv[0] != "server":
        problems.append(f"{where}: the command is not `cairn server ...`: {argv}")
        return
    if flags is None:
        return
    for a in argv[1:]:
        if a.startswith("--"):
            name = a.split("=", 1)[0]
            if name not in flags:
                problems.append(f"{where}: `cairn server` has no flag {name}")


# ---------------------------------------------------------------- systemd


def check_systemd(root, flags):
    problems = []
    unit = root / "deploy/systemd/cairn.service"
    text = unit.read_text()
    with tempfile.TemporaryDirectory() as scratch:
        s = Path(scratch)
        # systemd-analyze checks that ExecStart's binary exists, and loads the default
        # dependencies (sysinit.target...) from the root it is given.
        (s / "usr/local/bin").mkdir(parents=True)
        (s / "usr/lib/systemd").mkdir(parents=True)
        (s / "etc/systemd/system").mkdir(parents=True)
        shutil.copytree("/usr/lib/systemd/system", s / "usr/lib/systemd/system", symlinks=True)
        stub = s / "usr/local/bin/cairn"
        stub.write_text("#!/bin/sh\n")
        stub.chmod(0o755)
        target = s / "etc/systemd/system/cairn.service"
        target.write_text(text)
        analyze = tool("systemd-analyze")
        out = run([analyze, "verify", "--man=no", f"--root={s}", str(target)])
        said = (out.stdout + out.stderr).strip()
        if out.returncode != 0 or said:
            problems.append(f"systemd-analyze verify (exit {out.returncode}):\n{said}")
        out = run([analyze, "security", "--offline=yes", f"--root={s}", "--no-pager",
                   f"--threshold={MAX_EXPOSURE}", str(target)])
        if out.returncode != 0:
            level = re.findall(r"Overall exposure level.*", out.stdout)
            problems.append(f"systemd-analyze security: exposure above {MAX_EXPOSURE / 10} "
                            f"(exit {out.returncode}): {level or out.stderr.strip()}")

    keys = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")) and "=" in line:
            k, v = line.split("=", 1)
            keys.setdefault(k.strip(), []).append(v.strip())
    exec_start = shlex.split(keys.get("ExecStart", [""])[0])
    if not exec_start or exec_start[0] != "/usr/local/bin/cairn":
        problems.append(f"systemd: ExecStart does not run /usr/local/bin/cairn: {exec_start}")
        return problems
    argv = exec_start[1:]
    check_server_argv(argv, flags, "systemd ExecStart", problems)
    data_dir = flag_value(argv, "--data-dir")
    state = keys.get("StateDirectory", [None])[0]
    if data_dir is None or state is None or data_dir != f"/var/lib/{state}":
        problems.append(f"systemd: --data-dir {data_dir} is not the StateDirectory "
                        f"/var/lib/{state}")
    if data_dir not in " ".join(keys.get("ReadWritePaths", [])).split():
        problems.append(f"systemd: the data dir {data_dir} is not in ReadWritePaths")
    if flag_value(argv, "--config") != "/etc/cairn/cairn.toml":
        problems.append("systemd: --config is not /etc/cairn/cairn.toml")
    expected = {"User": "cairn", "Restart": "on-failure", "NoNewPrivileges": "yes",
                "ProtectSystem": "strict", "PrivateTmp": "yes"}
    for k, v in expected.items():
        if keys.get(k, [None])[-1] != v:
            problems.append(f"systemd: {k}= is not {v}")
    if "LimitNOFILE" not in keys:
        problems.append("systemd: no LimitNOFILE=")
    stop = keys.get("TimeoutStopSec", ["0"])[-1]
    m = re.fullmatch(r"(\d+)(s|min)?", stop)
    if not m or int(m.group(1)) * (60 if m.group(2) == "min" else 1) < 60:
        problems.append(f"systemd: TimeoutStopSec={stop} leaves less than a minute to "
                        "checkpoint at shutdown")
    return problems


# ---------------------------------------------------------------- docker compose


def check_compose(root, flags):
    problems = []
    path = root / "deploy/docker-compose.yml"
    out = run([tool("docker-compose"), "-f", str(path), "config"], cwd=root)
    if out.returncode != 0:
        return [f"docker-compose config (exit {out.returncode}):\n{out.stderr.strip()}"]
    # The resolved form: anchors merged, paths absolute.
    cfg = yaml.safe_load(out.stdout)
    services = cfg.get("services", {})
    subnets = [c["subnet"] for n in cfg.get("networks", {}).values() if n
               for c in (n.get("ipam") or {}).get("config", [])]
    declared = set(cfg.get("volumes") or {})
    ids, bootstraps, grpc_of = {}, [], {}
    for name, svc in services.items():
        where = f"compose {name}"
        argv = [str(a) for a in svc.get("command") or []]
        check_server_argv(argv, flags, where, problems)
        node_id = flag_value(argv, "--node-id")
        if node_id is None:
            problems.append(f"{where}: no --node-id")
        elif node_id in ids:
            problems.append(f"{where}: node id {node_id} is also {ids[node_id]}'s")
        else:
            ids[node_id] = name
        ips = [n.get("ipv4_address") for n in (svc.get("networks") or {}).values() if n]
        http, grpc = flag_value(argv, "--http-addr"), flag_value(argv, "--grpc-addr")
        for flag, addr, port in (("--http-addr", http, HTTP_PORT),
                                 ("--grpc-addr", grpc, GRPC_PORT)):
            if not ips or addr != f"{ips[0]}:{port}":
                problems.append(f"{where}: {flag} {addr} is not its fixed IP {ips} and port "
                                f"{port} (the address a node binds is the one peers dial)")
        if ips and not any(ipaddress.ip_address(ips[0]) in ipaddress.ip_network(net)
                           for net in subnets):
            problems.append(f"{where}: {ips[0]} is not in the network's subnet {subnets}")
        grpc_of[name] = grpc
        if (svc.get("environment") or {}).get("CAIRN_URL") != f"http://{http}":
            problems.append(f"{where}: CAIRN_URL is not http://{http}")
        join = flag_value(argv, "--join")
        if join is None:
            bootstraps.append(name)
        svc["_join"] = join
        data_dir = flag_value(argv, "--data-dir")
        mounts = [v for v in svc.get("volumes") or [] if isinstance(v, str)]
        vols = [m.split(":")[0] for m in mounts if m.split(":")[1:2] == [data_dir]]
        if not vols or vols[0] not in declared:
            problems.append(f"{where}: no declared named volume on its data dir {data_dir}")
        if (svc.get("build") or {}).get("dockerfile") and not (
                Path(svc["build"]["context"]) / svc["build"]["dockerfile"]).is_file():
            problems.append(f"{where}: the Dockerfile it builds does not exist")
        if not svc.get("stop_grace_period"):
            problems.append(f"{where}: no stop_grace_period (docker's 10 s cuts the "
                            "shutdown checkpoint short)")
    if len(bootstraps) != 1:
        problems.append(f"compose: exactly one node may start without --join, not {bootstraps}")
    for name, svc in services.items():
        join = svc["_join"]
        if join is None:
            continue
        host, _, port = join.rpartition(":")
        if host not in services or host == name or port != str(GRPC_PORT):
            problems.append(f"compose {name}: --join {join} is not another node's gRPC port")
    if bootstraps and bootstraps[0] in services:
        ports = [str(p.get("published")) if isinstance(p, dict) else str(p)
                 for p in services[bootstraps[0]].get("ports") or []]
        if not any(str(HTTP_PORT) in p for p in ports):
            problems.append(f"compose: {bootstraps[0]}'s HTTP port {HTTP_PORT} is not published")
    return problems


# ---------------------------------------------------------------- Dockerfile


def dockerfile_instructions(text):
    """(instruction, arguments) pairs: comments dropped, continuation lines joined."""
    out, current = [], ""
    for line in text.splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if current and line.lstrip().startswith("#"):
            continue
        current += line.rstrip()
        if current.endswith("\\"):
            current = current[:-1] + " "
            continue
        word, _, rest = current.strip().partition(" ")
        out.append((word.upper(), rest.strip()))
        current = ""
    return out


def check_docker(root, flags):
    problems = []
    path = root / "deploy/Dockerfile"
    out = run([tool("hadolint"), "--no-color", "--failure-threshold", "style", str(path)])
    if out.returncode != 0:
        problems.append(f"hadolint (exit {out.returncode}):\n{(out.stdout + out.stderr).strip()}")
    text = path.read_text()
    node = tomllib.loads((root / "node/Cargo.toml").read_text())
    package, bins = node["package"]["name"], [b["name"] for b in node.get("bin", [])]
    steps = dockerfile_instructions(text)
    builds = [a for i, a in steps if i == "RUN" and "cargo build" in a]
    if not builds:
        problems.append("Dockerfile: no `cargo build`")
    for b in builds:
        argv = shlex.split(b[b.index("cargo build"):].split("&&")[0])
        if flag_value(argv, "-p") != package or flag_value(argv, "--bin") not in bins:
            problems.append(f"Dockerfile: `{' '.join(argv)}` does not build package {package} "
                            f"binary {bins} (node/Cargo.toml)")
        if "--release" not in argv:
            problems.append("Dockerfile: the build is not --release")
    froms = [a for i, a in steps if i == "FROM"]
    if len(froms) < 2:
        problems.append("Dockerfile: not a multi-stage build")
    final = []
    for i, a in steps:
        final = [] if i == "FROM" else final + [(i, a)]
    exposed = {p for i, a in final if i == "EXPOSE" for p in a.split()}
    if not {str(HTTP_PORT), str(GRPC_PORT)} <= exposed:
        problems.append(f"Dockerfile: the image exposes {sorted(exposed)}, "
                        f"not {HTTP_PORT} and {GRPC_PORT}")
    users = [a for i, a in final if i == "USER"]
    if not users or users[-1].split(":")[0] in ("root", "0"):
        problems.append("Dockerfile: the image runs as root")
    health = [a for i, a in final if i == "HEALTHCHECK"]
    if not health or "/ready" not in health[-1]:
        problems.append("Dockerfile: no HEALTHCHECK on /ready")
    elif "curl" in health[-1] and not any(i == "RUN" and "curl" in a for i, a in final):
        problems.append("Dockerfile: the health check runs curl, which the image lacks")
    return problems


# ---------------------------------------------------------------- Kubernetes


def kubelet_expand(text, env):
    """Kubernetes' expansion of command and args: $(NAME) becomes a defined variable's value,
    $$ a single $, and anything else (an unknown name, $((...)) shell arithmetic) stays."""
    out, i = [], 0
    while i < len(text):
        if text[i] == "$" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt == "$":
                out.append("$")
                i += 2
                continue
            if nxt == "(":
                end = text.find(")", i + 2)
                if end != -1:
                    name = text[i + 2:end]
                    out.append(env[name] if name in env else text[i:end + 1])
                    i = end + 1
                    continue
        out.append(text[i])
        i += 1
    return "".join(out)


def run_container_command(container, hostname, namespace, pod_ip, scratch):
    """The argv the container's command hands to cairn in pod `hostname`: the command run by
    sh with a stand-in binary that prints its arguments."""
    env = {"HOSTNAME": hostname, "POD_IP": pod_ip, "POD_NAMESPACE": namespace}
    for e in container.get("env", []):
        if "value" in e:
            env[e["name"]] = kubelet_expand(e["value"], env)
    command = [kubelet_expand(c, env)
               for c in container.get("command", []) + container.get("args", [])]
    if command[:2] != ["/bin/sh", "-c"] or len(command) != 3:
        raise Problem(f"kubernetes: the container command is not /bin/sh -c SCRIPT: {command}")
    stub = scratch / "cairn"
    stub.write_text('#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\n')
    stub.chmod(0o755)
    script = command[2].replace("/usr/local/bin/cairn", str(stub))
    out = run(["sh", "-c", script], env={**env, "PATH": f"{scratch}:/usr/bin:/bin"})
    if out.returncode != 0:
        raise Problem(f"kubernetes: the container command failed for pod {hostname}: "
                      f"{out.stderr.strip()}")
    return out.stdout.splitlines()


def example_keys(root):
    """Every key of deploy/cairn.example.toml, commented-out ones included, as table.key."""
    keys, table = set(), ""
    for line in (root / "deploy/cairn.example.toml").read_text().splitlines():
        line = line.strip()
        m = re.fullmatch(r"\[([a-z_]+)\]", line)
        if m:
            table = m.group(1) + "."
            continue
        m = re.match(r"#?\s*([a-z_0-9]+)\s*=", line)
        if m:
            keys.add(table + m.group(1))
    return keys


def check_kubernetes(root, flags):
    problems = []
    path = root / "deploy/kubernetes/cairn.yaml"
    for version in K8S_VERSIONS:
        out = run([sys.executable, "-m", "kubernetes_validate", "--strict", "--quiet",
                   "-k", version, str(path)])
        said = (out.stdout + out.stderr).strip()
        if out.returncode != 0 or said:
            problems.append(f"kubernetes-validate --strict -k {version} "
                            f"(exit {out.returncode}):\n{said}")
    if problems:
        return problems
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], []).append(d)
    sts_all = by_kind.get("StatefulSet", [])
    if len(sts_all) != 1:
        return problems + [f"kubernetes: {len(sts_all)} StatefulSets, expected one"]
    sts = sts_all[0]
    spec, pod = sts["spec"], sts["spec"]["template"]["spec"]
    labels = sts["spec"]["template"]["metadata"]["labels"]

    def selects(selector):
        return bool(selector) and all(labels.get(k) == v for k, v in selector.items())

    services = {s["metadata"]["name"]: s for s in by_kind.get("Service", [])}
    headless = services.get(spec.get("serviceName"))
    if not headless or headless["spec"].get("clusterIP") != "None":
        problems.append(f"kubernetes: serviceName {spec.get('serviceName')} is not a headless "
                        "Service")
    elif not headless["spec"].get("publishNotReadyAddresses"):
        problems.append("kubernetes: the headless Service does not publish not-ready pods, so "
                        "pods cannot resolve cairn-0 while it starts")
    clients = [s for n, s in services.items() if s is not headless]
    if not clients or not all(selects(s["spec"].get("selector")) for s in services.values()):
        problems.append("kubernetes: a client Service and the headless one must select the pods")
    if spec.get("podManagementPolicy") not in ("Parallel", "OrderedReady"):
        problems.append("kubernetes: podManagementPolicy is not set")
    if int(pod.get("terminationGracePeriodSeconds", 30)) < 60:
        problems.append("kubernetes: terminationGracePeriodSeconds under a minute cuts the "
                        "shutdown checkpoint short")
    pdbs = by_kind.get("PodDisruptionBudget", [])
    if not pdbs or pdbs[0]["spec"].get("maxUnavailable") != 1 or not selects(
            pdbs[0]["spec"].get("selector", {}).get("matchLabels")):
        problems.append("kubernetes: no PodDisruptionBudget with maxUnavailable: 1 over the pods")

    container = pod["containers"][0]
    ports = {p.get("name"): p["containerPort"] for p in container.get("ports", [])}
    if ports.get("http") != HTTP_PORT or ports.get("grpc") != GRPC_PORT:
        problems.append(f"kubernetes: container ports are {ports}, not http {HTTP_PORT} and "
                        f"grpc {GRPC_PORT}")
    for probe, want in (("readinessProbe", "/ready"), ("livenessProbe", "/health")):
        get = (container.get(probe) or {}).get("httpGet") or {}
        if get.get("path") != want or ports.get(get.get("port"), get.get("port")) != HTTP_PORT:
            problems.append(f"kubernetes: {probe} is not GET {want} on port {HTTP_PORT}")
    if not (container.get("resources") or {}).get("requests"):
        problems.append("kubernetes: no resource requests")
    env = {e["name"]: e for e in container.get("env", [])}
    if (env.get("POD_IP", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
            != "status.podIP"):
        problems.append("kubernetes: POD_IP does not come from status.podIP")
    if (env.get("POD_NAMESPACE", {}).get("valueFrom", {}).get("fieldRef", {})
            .get("fieldPath") != "metadata.namespace"):
        problems.append("kubernetes: POD_NAMESPACE does not come from metadata.namespace")
    if env.get("CAIRN_URL", {}).get("value") != f"http://$(POD_IP):{HTTP_PORT}":
        problems.append("kubernetes: CAIRN_URL does not point the CLI at the pod's own node")

    mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
    claims = {c["metadata"]["name"] for c in spec.get("volumeClaimTemplates", [])}
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    namespace, pod_ip = "ns1", "10.1.2.3"
    headless_name = spec.get("serviceName")
    with tempfile.TemporaryDirectory() as scratch:
        for ordinal in (0, 1, 3):
            name = f"{sts['metadata']['name']}-{ordinal}"
            try:
                argv = run_container_command(container, name, namespace, pod_ip, Path(scratch))
            except Problem as e:
                problems.append(str(e))
                continue
            where = f"kubernetes pod {name}"
            check_server_argv(argv, flags, where, problems)
            if flag_value(argv, "--node-id") != str(ordinal + 1):
                problems.append(f"{where}: --node-id {flag_value(argv, '--node-id')}, "
                                f"not {ordinal + 1}")
            for flag, port in (("--http-addr", HTTP_PORT), ("--grpc-addr", GRPC_PORT)):
                if flag_value(argv, flag) != f"{pod_ip}:{port}":
                    problems.append(f"{where}: {flag} {flag_value(argv, flag)} is not the pod "
                                    f"IP and port {port}")
            # Peers dial the pod's stable name, not its IP (which a re-created pod changes).
            for flag, port in (("--advertise-http-addr", HTTP_PORT),
                               ("--advertise-grpc-addr", GRPC_PORT)):
                want = f"{name}.{headless_name}.{namespace}.svc.cluster.local:{port}"
                if flag_value(argv, flag) != want:
                    problems.append(f"{where}: {flag} {flag_value(argv, flag)}, not {want}")
            join = flag_value(argv, "--join")
            seed = (f"{sts['metadata']['name']}-0.{headless_name}.{namespace}"
                    f".svc.cluster.local:{GRPC_PORT}")
            if ordinal == 0 and join is not None:
                problems.append(f"{where}: pod 0 must bootstrap, but joins {join}")
            if ordinal > 0 and join != seed:
                problems.append(f"{where}: --join {join}, not {seed}")
            data_dir = flag_value(argv, "--data-dir")
            if mounts.get(data_dir) not in claims:
                problems.append(f"{where}: the data dir {data_dir} is not a volumeClaimTemplate")
            config = flag_value(argv, "--config")
            if config:
                vol = volumes.get(mounts.get(str(Path(config).parent)), {})
                cm_name = (vol.get("configMap") or {}).get("name")
                cms = [c for c in by_kind.get("ConfigMap", [])
                       if c["metadata"]["name"] == cm_name]
                content = cms[0]["data"].get(Path(config).name) if cms else None
                if content is None:
                    problems.append(f"{where}: --config {config} is no ConfigMap key")
                else:
                    problems += check_toml_keys(content, example_keys(root), config)
    return problems


def check_toml_keys(text, known, where):
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        return [f"kubernetes: {where} is not TOML: {e}"]
    problems = []
    for k, v in doc.items():
        for key in ([f"{k}.{kk}" for kk in v] if isinstance(v, dict) else [k]):
            if key not in known:
                problems.append(f"kubernetes: {where}: {key} is not a key of "
                                "deploy/cairn.example.toml")
    return problems


CHECK_FNS = {"systemd": check_systemd, "compose": check_compose, "docker": check_docker,
             "kubernetes": check_kubernetes}

# ---------------------------------------------------------------- self-test

# (check, file, old, new): replacing `old` by `new` in `file` must make `check` fail.
BREAKAGES = [
    ("systemd", "deploy/systemd/cairn.service", "Restart=on-failure", "Restart=sometimes"),
    ("systemd", "deploy/systemd/cairn.service", "[Install]", "[Install]\nWantedBye=x.target"),
    ("systemd", "deploy/systemd/cairn.service", "\n[Install]",
     "\nNoNewPrivileges=no\nProtectSystem=no\nPrivateDevices=no\nProtectKernelTunables=no"
     "\nRestrictNamespaces=no\nSystemCallFilter=\nRestrictAddressFamilies=\n\n[Install]"),
    ("systemd", "deploy/systemd/cairn.service", "--data-dir /var/lib/cairn",
     "--data-dir /srv/cairn"),
    ("systemd", "deploy/systemd/cairn.service", "--config /etc", "--conf /etc"),
    ("compose", "deploy/docker-compose.yml", "    hostname: cairn2", "    hostnme: cairn2"),
    ("compose", "deploy/docker-compose.yml", "      - --join=cairn1:7481\n",  ""),
    ("compose", "deploy/docker-compose.yml", "--grpc-addr=172.30.74.12:7481",
     "--grpc-addr=0.0.0.0:7481"),
    ("compose", "deploy/docker-compose.yml", "--node-id=3", "--node=3"),
    ("docker", "deploy/Dockerfile", "WORKDIR /src\n", "RUN cd /src\n"),
    ("docker", "deploy/Dockerfile", "-p cairn-node", "-p cairn-server"),
    ("docker", "deploy/Dockerfile", "USER 7480:7480", "USER root"),
    ("kubernetes", "deploy/kubernetes/cairn.yaml",
     '--advertise-grpc-addr "${HOSTNAME}.cairn-headless', '--advertise-grpc-addr "${POD_IP}.cairn-headless'),
    ("kubernetes", "deploy/kubernetes/cairn.yaml", "replicas: 3", "replicas: three"),
    ("kubernetes", "deploy/kubernetes/cairn.yaml", "apiVersion: policy/v1",
     "apiVersion: policy/v1beta7"),
    ("kubernetes", "deploy/kubernetes/cairn.yaml", "  serviceName:", "  serviceNme:"),
    ("kubernetes", "deploy/kubernetes/cairn.yaml", "path: /ready", "path: /health"),
    ("kubernetes", "deploy/kubernetes/cairn.yaml", "cairn-0.cairn-headless.${POD_NAMESPACE}",
     "cairn-0.cairn.${POD_NAMESPACE}"),
    ("kubernetes", "deploy/kubernetes/cairn.yaml", '--node-id "$((ordinal + 1))"',
     '--node-id "$ordinal"'),
    ("kubernetes", "deploy/kubernetes/cairn.yaml", "replication_factor = 3",
     "replication = 3"),
    ("kubernetes", "deploy/kubernetes/cairn.yaml", "maxUnavailable: 1", "maxUnavailable: 2"),
]


def self_test(cairn):
    """Each check passes on the files as they are and fails on every breakage of them."""
    problems, flags = [], server_flags(cairn)
    for name, fn in CHECK_FNS.items():
        if fn(REPO, flags):
            problems.append(f"{name}: fails on the files as they are (run it alone)")
    for check, rel, old, new in BREAKAGES:
        with tempfile.TemporaryDirectory() as scratch:
            root = Path(scratch)
            shutil.copytree(REPO / "deploy", root / "deploy")
            (root / "node").mkdir()
            shutil.copy(REPO / "node/Cargo.toml", root / "node/Cargo.toml")
            text = (root / rel).read_text()
            if text.count(old) < 1:
                problems.append(f"self-test: {old!r} is not in {rel} any more: update BREAKAGES")
                continue
            (root / rel).write_text(text.replace(old, new, 1))
            found = CHECK_FNS[check](root, flags)
            label = f"{check} on {rel} with {old.strip()!r} -> {new.strip()!r}"
            if found:
                print(f"fails as it should: {label}: {' '.join(found[0].split())[:240]}")
            else:
                problems.append(f"self-test: {label} passed, but should fail")
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checks", nargs="*", metavar="CHECK", help=" ".join(CHECKS))
    ap.add_argument("--root", type=Path, default=REPO)
    ap.add_argument("--cairn", help="the cairn binary, for its `server` flags")
    ap.add_argument("--self-test", action="store_true")
    a = ap.parse_args()
    for name in a.checks:
        if name not in CHECKS:
            ap.error(f"no check {name!r}: the checks are {', '.join(CHECKS)}")
    try:
        if a.self_test:
            problems = self_test(a.cairn)
            what = f"self-test ({len(BREAKAGES)} broken copies)"
        else:
            flags = server_flags(a.cairn)
            if flags is None:
                print("(no --cairn: the flags the files pass are not checked)")
            problems = []
            for name in a.checks or CHECKS:
                found = CHECK_FNS[name](a.root, flags)
                print(f"{name}: {'ok' if not found else f'{len(found)} problem(s)'}")
                problems += found
            what = ", ".join(a.checks or CHECKS)
    except Problem as e:
        problems, what = [str(e)], "deploy checks"
    for p in problems:
        print(f"PROBLEM: {p}", file=sys.stderr)
    print(f"{what}: {'ok' if not problems else 'FAILED'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
