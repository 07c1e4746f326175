"""Runs a command with the environment the puller's pod would have: the variables of the
Deployment's container, as installed in the cluster, with `envFrom` ConfigMaps first and `env`
entries over them (the kubelet's order), `fieldRef: metadata.name` resolved to a pod name.

    python pod_env.py --namespace NS --deployment NAME --pod-name POD [--set K=V]... -- kip run

The cluster is the one of KUBECONFIG, read with kubectl. Used by e2e.sh, where the simulated
Deployment's pod does not really run kip, so kip runs here instead.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from typing import Any, Callable

from render import kubectl


def get(kind: str, name: str, namespace: str) -> dict[str, Any]:
    done = subprocess.run([kubectl(), "get", kind, name, "--namespace", namespace, "--output", "json"],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"pod_env: cannot read {kind} {name} in {namespace}: {done.stderr.strip()}")
    return json.loads(done.stdout)


def pod_environment(
    deployment: dict[str, Any],
    namespace: str,
    pod_name: str,
    read_config_map: Callable[[str], dict[str, Any]],
) -> dict[str, str]:
    """The variables of the Deployment's first container; `read_config_map(name)` gives a
    ConfigMap of the namespace."""
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        if "configMapRef" in source:
            data = read_config_map(source["configMapRef"]["name"]).get("data") or {}
            env.update({source.get("prefix", "") + k: v for k, v in data.items()})
    for entry in container.get("env") or []:
        if "value" in entry:
            env[entry["name"]] = entry["value"]
        elif ((entry.get("valueFrom") or {}).get("fieldRef") or {}).get("fieldPath") == "metadata.name":
            env[entry["name"]] = pod_name
        elif ((entry.get("valueFrom") or {}).get("fieldRef") or {}).get("fieldPath") == "metadata.namespace":
            env[entry["name"]] = namespace
        else:
            raise SystemExit(f"pod_env: cannot resolve env {entry['name']}: {entry}")
    return env


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--deployment", required=True)
    parser.add_argument("--pod-name", required=True)
    parser.add_argument("--set", action="append", default=[], metavar="K=V", help="extra variables")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run after --")
    env = pod_environment(
        get("deployment", args.deployment, args.namespace),
        args.namespace,
        args.pod_name,
        lambda name: get("configmap", name, args.namespace),
    )
    for pair in args.set:
        key, _, value = pair.partition("=")
        env[key] = value
    # What the process needs from here, besides the pod's variables.
    for key in ("PATH", "KUBECONFIG", "HOME", "RUST_LOG", "RUST_BACKTRACE"):
        if key in os.environ:
            env.setdefault(key, os.environ[key])
    sys.stdout.flush()
    os.execvpe(command[0], command, env)
    return 127


if __name__ == "__main__":
    sys.exit(main())
