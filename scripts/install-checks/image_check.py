"""Builds the kip image with build/build-image.sh, pushes it to a local registry started with
build/local-registry.sh, and checks what a node would pull: the image configuration (user,
entrypoint, labels), the one layer's files, and that the build is reproducible. Prints the
image's size.

    python image_check.py [--kip PATH --kip-sleep PATH]

Without binaries it compiles two small static test programs, which proves the build and push
path; with the real static builds it also measures the real image. Needs buildah,
docker-registry and skopeo (Debian packages) and a C compiler for the test programs.
Ends with "N passed, M failed"; exits 1 when a check fails.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from check_artifacts import Report

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / "build"
EXPECTED_LABELS = ("title", "description", "version", "revision", "created", "source", "licenses")
EXPECTED_FILES = {
    "usr/local/bin/kip": 0o555,
    "usr/local/bin/kip-sleep": 0o555,
    "etc/ssl/certs/ca-certificates.crt": None,
}


def run(*command: str, **kwargs) -> str:
    done = subprocess.run(command, capture_output=True, text=True, **kwargs)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {done.returncode}: {done.stderr.strip()}")
    return done.stdout


def static_test_binaries(workdir: Path) -> tuple[Path, Path]:
    source = workdir / "test-binary.c"
    source.write_text('#include <stdio.h>\nint main(void) { puts(NAME); return 0; }\n')
    paths = []
    for name in ("kip", "kip-sleep"):
        path = workdir / name
        run("cc", "-static", "-O2", f'-DNAME="{name} test binary"', "-o", str(path), str(source))
        paths.append(path)
    return paths[0], paths[1]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build_and_push(kip: Path, kip_sleep: Path, storage: Path, destination: str, digest_file: Path) -> None:
    run(
        str(BUILD / "build-image.sh"), "--kip", str(kip), "--kip-sleep", str(kip_sleep),
        "--storage", str(storage), "--image", "localhost/kip:check",
        "--push", destination, "--insecure", "--digest-file", str(digest_file),
    )


def check_image(report: Report, kip: Path, kip_sleep: Path, workdir: Path) -> None:
    registry_dir = workdir / "registry"
    address = run(str(BUILD / "local-registry.sh"), "start", str(registry_dir)).strip()
    try:
        destination = f"{address}/kip-dev/kip:0.1.0"
        first, second = workdir / "digest-1", workdir / "digest-2"
        report.check(
            f"build-image.sh builds and pushes to the local registry {address}",
            lambda: build_and_push(kip, kip_sleep, workdir / "store", destination, first) or [],
        )
        if not first.exists():
            return
        config = json.loads(run("skopeo", "inspect", "--config", "--tls-verify=false", f"docker://{destination}"))
        manifest = json.loads(run("skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{destination}"))
        report.check("image configuration: user, entrypoint, arguments, port, CA bundle", lambda: image_config_problems(config))
        report.check("OCI labels org.opencontainers.image.*", lambda: label_problems(config))
        report.check("one layer holding exactly the two binaries and the CA bundle", lambda: layer_problems(
            destination, workdir / "oci", {"usr/local/bin/kip": kip, "usr/local/bin/kip-sleep": kip_sleep}))

        def reproducible() -> list[str]:
            build_and_push(kip, kip_sleep, workdir / "store-again", destination, second)
            a, b = first.read_text().strip(), second.read_text().strip()
            return [] if a == b else [f"two builds of the same inputs differ: {a} and {b}"]

        report.check("the same inputs give the same image digest", reproducible)
        compressed = sum(layer["size"] for layer in manifest["layers"])
        files = kip.stat().st_size + kip_sleep.stat().st_size
        print(f"  image size: {compressed} bytes to pull (compressed layer), "
              f"{compressed + manifest['config']['size']} with its configuration; binaries {files} bytes "
              f"(kip {kip.stat().st_size}, kip-sleep {kip_sleep.stat().st_size})")
    finally:
        run(str(BUILD / "local-registry.sh"), "stop", str(registry_dir))


def image_config_problems(config: dict) -> list[str]:
    settings = config.get("config") or {}
    wanted = {
        "User": "65532:65532",
        "Entrypoint": ["/usr/local/bin/kip"],
        "Cmd": ["run"],
        "ExposedPorts": {"8080/tcp": {}},
    }
    problems = [f"{key} is {settings.get(key)!r}, expected {value!r}" for key, value in wanted.items()
                if settings.get(key) != value]
    if "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt" not in (settings.get("Env") or []):
        problems.append("SSL_CERT_FILE does not point at the CA bundle")
    if config.get("os") != "linux" or config.get("architecture") != "amd64":
        problems.append(f"platform is {config.get('os')}/{config.get('architecture')}, expected linux/amd64")
    return problems


def label_problems(config: dict) -> list[str]:
    labels = (config.get("config") or {}).get("Labels") or {}
    problems = [f"label org.opencontainers.image.{name} is missing" for name in EXPECTED_LABELS
                if not labels.get(f"org.opencontainers.image.{name}")]
    if labels.get("org.opencontainers.image.licenses") not in (None, "Apache-2.0"):
        problems.append(f"licenses label is {labels['org.opencontainers.image.licenses']!r}")
    return problems


def layer_problems(destination: str, oci_dir: Path, binaries: dict[str, Path]) -> list[str]:
    run("skopeo", "copy", "--quiet", "--src-tls-verify=false", f"docker://{destination}", f"oci:{oci_dir}:check")
    index = json.loads((oci_dir / "index.json").read_text())
    manifest_digest = index["manifests"][0]["digest"].split(":")[1]
    manifest = json.loads((oci_dir / "blobs" / "sha256" / manifest_digest).read_text())
    if len(manifest["layers"]) != 1:
        return [f"{len(manifest['layers'])} layers, expected 1"]
    layer = oci_dir / "blobs" / "sha256" / manifest["layers"][0]["digest"].split(":")[1]
    problems = []
    with tarfile.open(layer) as tar:
        members = {m.name.lstrip("./"): m for m in tar.getmembers() if m.isfile()}
        if set(members) != set(EXPECTED_FILES):
            problems.append(f"files in the layer: {sorted(members)}, expected {sorted(EXPECTED_FILES)}")
        for name, mode in EXPECTED_FILES.items():
            member = members.get(name)
            if member is None:
                continue
            if mode is not None and member.mode & 0o7777 != mode:
                problems.append(f"{name} has mode {oct(member.mode & 0o7777)}, expected {oct(mode)}")
            if (member.uid, member.gid) != (0, 0):
                problems.append(f"{name} is owned by {member.uid}:{member.gid}; the image's user must not be able to change it")
            if name in binaries:
                extracted = tar.extractfile(member)
                digest = hashlib.sha256(extracted.read()).hexdigest() if extracted else ""
                if digest != sha256(binaries[name]):
                    problems.append(f"{name} is not the binary given to the build")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kip", type=Path)
    parser.add_argument("--kip-sleep", type=Path)
    args = parser.parse_args(argv)
    if (args.kip is None) != (args.kip_sleep is None):
        parser.error("give both --kip and --kip-sleep, or neither")
    report = Report()
    with tempfile.TemporaryDirectory(prefix="kip-image-check-") as tmp:
        workdir = Path(tmp)
        report.section("container image")
        if args.kip:
            kip, kip_sleep = args.kip.resolve(), args.kip_sleep.resolve()
            print(f"  binaries: {kip}, {kip_sleep}")
        else:
            kip, kip_sleep = static_test_binaries(workdir)
            print("  binaries: two static test programs (give --kip and --kip-sleep for the real ones)")
        check_image(report, kip, kip_sleep, workdir)
    print()
    print(f"checks: {report.passed} passed, {report.failed} failed")
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
