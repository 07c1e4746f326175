"""What every install method must produce, whatever its parameters: the objects and names of
the Go kubernetes-image-puller, the ConfigMap keys kip reads, a Deployment wired the way
`kip run` expects, and RBAC that grants exactly the API calls kip makes.

Each `check_*` function takes the objects of one installation and returns a list of problems
(empty when all holds).
"""

from __future__ import annotations

import json
from typing import Any

# SPEC section 2: the keys of the Go puller's ConfigMap, with the defaults every template sets.
SPEC_DEFAULTS = {
    "IMAGES": (
        "java11-maven=quay.io/eclipse/che-java11-maven:nightly; che-theia=quay.io/eclipse/che-theia:next; "
        "java-plugin-runner=eclipse/che-remote-plugin-runner-java8:latest;\n"
    ),
    "CACHING_INTERVAL_HOURS": "1",
    "DAEMONSET_NAME": "kubernetes-image-puller",
    "DAEMONSET_ANNOTATIONS": "{}",
    "NAMESPACE": "k8s-image-puller",
    "CACHING_MEMORY_REQUEST": "10Mi",
    "CACHING_MEMORY_LIMIT": "20Mi",
    "CACHING_CPU_REQUEST": ".05",
    "CACHING_CPU_LIMIT": ".2",
    "NODE_SELECTOR": "{}",
    "IMAGE_PULL_SECRETS": "",
    "AFFINITY": "{}",
    "TOLERATIONS": "[]",
}
# kip's additions, with their defaults; KIP_IMAGE points at kip's own image.
KIP_DEFAULTS = {
    "KIP_IMAGE": "ghcr.io/kip-dev/kip:0.1.0",
    "KIP_MAX_UNAVAILABLE": "10%",
    "KIP_KEEP_DAEMONSET_ON_EXIT": "false",
    "CACHING_MODE": "containers",
    "KIP_REFRESH_POLICY": "on-change",
    "KIP_PIN_DIGESTS": "false",
    "KIP_INSECURE_REGISTRIES": "",
    "KIP_WARM_NODE_LABEL": "",
    "KIP_STARTUP_TAINT": "",
}
CONFIG_MAP_DEFAULTS = {**SPEC_DEFAULTS, **KIP_DEFAULTS}

# The API calls `kip run` makes, as (API group, resource, verb). Server-side apply is a PATCH
# that creates a missing object, for which the API server also authorizes `create`.
KIP_API_CALLS = {
    ("apps", "daemonsets", verb) for verb in ("get", "list", "watch", "create", "patch", "delete")
} | {
    ("apps", "deployments", verb) for verb in ("get", "list", "watch")
} | {
    ("", "configmaps", verb) for verb in ("get", "list", "watch")
} | {
    ("coordination.k8s.io", "leases", verb) for verb in ("get", "create", "update")
} | {
    ("events.k8s.io", "events", verb) for verb in ("create", "patch")
} | {
    ("", "pods", verb) for verb in ("list", "watch")
}
# Reading the pull secrets (IMAGE_PULL_SECRETS) by name, for digest lookups with their
# credentials: granted only where the installation knows the names, and then pinned to them.
PULL_SECRET_CALL = ("", "secrets", "get")
# Rights on nodes, cluster-scoped, granted only by an install option that is off by default:
# list and watch for the cache status, patch for the warm signal.
NODE_VERBS = {"list", "watch", "patch"}
# Verbs that can never be pinned to a name: the name of a new object is not known when
# `create` is authorized.
UNPINNABLE_VERBS = {"create", "deletecollection"}

# The objects of the Go puller, by kind, with the names that do not depend on parameters.
FIXED_NAMES = {"Role": "create-daemonset", "RoleBinding": "create-daemonset"}
REQUIRED_KINDS = {"ServiceAccount", "Role", "RoleBinding", "ConfigMap", "Deployment"}
ALLOWED_KINDS = REQUIRED_KINDS | {"Namespace", "ClusterRole", "ClusterRoleBinding"}


def by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [obj for obj in objects if obj.get("kind") == kind]


def one(objects: list[dict[str, Any]], kind: str, problems: list[str]) -> dict[str, Any] | None:
    found = by_kind(objects, kind)
    if len(found) != 1:
        problems.append(f"expected exactly one {kind}, found {len(found)}")
        return None
    return found[0]


def name_of(obj: dict[str, Any] | None) -> str | None:
    return ((obj or {}).get("metadata") or {}).get("name")


def check_objects(objects: list[dict[str, Any]]) -> list[str]:
    problems: list[str] = []
    kinds = {obj.get("kind") for obj in objects}
    if missing := REQUIRED_KINDS - kinds:
        problems.append(f"missing objects: {', '.join(sorted(missing))}")
    if extra := kinds - ALLOWED_KINDS:
        problems.append(f"unexpected objects: {', '.join(sorted(str(k) for k in extra))}")
    for kind, name in FIXED_NAMES.items():
        for obj in by_kind(objects, kind):
            if name_of(obj) != name:
                problems.append(f"{kind} is named {name_of(obj)!r}, the Go puller's is {name!r}")
    return problems


def check_config_map(objects: list[dict[str, Any]], expected: dict[str, str]) -> list[str]:
    """All keys kip reads are present as strings; `expected` values match (JSON compared as JSON)."""
    problems: list[str] = []
    config_map = one(objects, "ConfigMap", problems)
    if config_map is None:
        return problems
    data = config_map.get("data") or {}
    if missing := set(CONFIG_MAP_DEFAULTS) - set(data):
        problems.append(f"ConfigMap lacks keys: {', '.join(sorted(missing))}")
    for key, value in data.items():
        if not isinstance(value, str):
            problems.append(f"ConfigMap key {key} is a {type(value).__name__}, not a string")
    for key, want in expected.items():
        got = data.get(key)
        if not _same_setting(got, want):
            problems.append(f"ConfigMap {key} is {got!r}, expected {want!r}")
    return problems


def _same_setting(got: Any, want: str) -> bool:
    if got == want:
        return True
    try:
        return isinstance(got, str) and json.loads(got) == json.loads(want) and want[:1] in "{["
    except ValueError:
        return False


def _env(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry.get("name"): entry for entry in container.get("env") or []}


def check_deployment(objects: list[dict[str, Any]]) -> list[str]:
    """The Deployment runs kip as `kip run` expects and as the Go templates shaped it."""
    problems: list[str] = []
    deployment = one(objects, "Deployment", problems)
    config_map = one(objects, "ConfigMap", problems)
    service_account = one(objects, "ServiceAccount", problems)
    if deployment is None:
        return problems
    spec = deployment.get("spec") or {}
    pod = (spec.get("template") or {}).get("spec") or {}
    if spec.get("replicas") != 1:
        problems.append(f"replicas is {spec.get('replicas')}, expected 1")
    selector = (spec.get("selector") or {}).get("matchLabels") or {}
    if selector != {"app": selector.get("app")} or not selector.get("app"):
        problems.append(f"selector {selector} is not the Go puller's (app: <name>)")
    template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    if any(template_labels.get(k) != v for k, v in selector.items()):
        problems.append("the pod template's labels do not match the selector")
    if pod.get("serviceAccountName") != name_of(service_account):
        problems.append(f"serviceAccountName {pod.get('serviceAccountName')!r} is not the ServiceAccount {name_of(service_account)!r}")
    containers = pod.get("containers") or []
    if len(containers) != 1:
        return problems + [f"expected one container, found {len(containers)}"]
    container = containers[0]
    env = _env(container)
    if (env.get("DEPLOYMENT_NAME") or {}).get("value") != name_of(deployment):
        problems.append(f"DEPLOYMENT_NAME must be the Deployment's own name {name_of(deployment)!r}")
    if (env.get("KIP_CONFIG_MAP") or {}).get("value") != name_of(config_map):
        problems.append(f"KIP_CONFIG_MAP must name the ConfigMap {name_of(config_map)!r}")
    field = (((env.get("POD_NAME") or {}).get("valueFrom") or {}).get("fieldRef") or {}).get("fieldPath")
    if field != "metadata.name":
        problems.append("POD_NAME must come from the downward API (metadata.name)")
    env_from = [(source.get("configMapRef") or {}).get("name") for source in container.get("envFrom") or []]
    if env_from != [name_of(config_map)]:
        problems.append(f"envFrom must be the ConfigMap {name_of(config_map)!r}, is {env_from}")
    ports = {port.get("name"): port.get("containerPort") for port in container.get("ports") or []}
    if ports.get("http") != 8080:
        problems.append("container port http must be 8080 (KIP_HTTP_ADDR's default)")
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        get = (container.get(probe) or {}).get("httpGet") or {}
        if get.get("path") != path or get.get("port") not in ("http", 8080):
            problems.append(f"{probe} must GET {path} on port http")
    resources = container.get("resources") or {}
    for bound in ("requests", "limits"):
        if set((resources.get(bound) or {})) != {"cpu", "memory"}:
            problems.append(f"resources.{bound} must set cpu and memory")
    return problems


def pull_secret_names(objects: list[dict[str, Any]]) -> set[str]:
    """The names in the ConfigMap's IMAGE_PULL_SECRETS."""
    config_map = next(iter(by_kind(objects, "ConfigMap")), {})
    raw = (config_map.get("data") or {}).get("IMAGE_PULL_SECRETS") or ""
    return {name.strip() for name in raw.split(";") if name.strip()}


def check_rbac(objects: list[dict[str, Any]], reads_pull_secrets: bool = False) -> list[str]:
    """The Role grants exactly kip's API calls, namespaced; names it pins are the ones kip uses.
    With `reads_pull_secrets`, it also grants reading the pull secrets, by name."""
    problems: list[str] = []
    role = one(objects, "Role", problems)
    binding = one(objects, "RoleBinding", problems)
    service_account = one(objects, "ServiceAccount", problems)
    deployment = one(objects, "Deployment", problems)
    config_map = one(objects, "ConfigMap", problems)
    if None in (role, binding, service_account, deployment, config_map):
        return problems
    granted: set[tuple[str, str, str]] = set()
    pinned: dict[tuple[str, str], set[str]] = {}
    for rule in role.get("rules") or []:
        for group in rule.get("apiGroups") or []:
            for resource in rule.get("resources") or []:
                for verb in rule.get("verbs") or []:
                    if "*" in (group, resource, verb):
                        problems.append(f"wildcard in rule {rule}")
                    granted.add((group, resource, verb))
                    if rule.get("resourceNames"):
                        if verb in UNPINNABLE_VERBS:
                            problems.append(f"{verb} {resource} is pinned to names, which never matches")
                        pinned.setdefault((resource, verb), set()).update(rule["resourceNames"])
    needed = KIP_API_CALLS | ({PULL_SECRET_CALL} if reads_pull_secrets else set())
    if missing := needed - granted:
        problems.append("kip needs: " + ", ".join(f"{v} {g or 'core'}/{r}" for g, r, v in sorted(missing)))
    if PULL_SECRET_CALL in granted:
        names = pinned.get(("secrets", "get"))
        if names is None:
            problems.append("get secrets is granted for every secret: pin it to the pull secrets' names")
        elif names != pull_secret_names(objects):
            problems.append(f"get secrets is pinned to {sorted(names)}, the pull secrets are {sorted(pull_secret_names(objects))}")
    if extra := granted - KIP_API_CALLS - {PULL_SECRET_CALL}:
        problems.append("more than kip needs: " + ", ".join(f"{v} {g or 'core'}/{r}" for g, r, v in sorted(extra)))

    container = (((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers", [{}])[0]
    env = {k: (v or {}).get("value") for k, v in _env(container).items()}
    lease = env.get("KIP_LEASE_NAME")
    uses = {
        "configmaps": name_of(config_map),
        "deployments": name_of(deployment),
        "leases": lease,
        "daemonsets": None,
        "events": None,
        "secrets": "(checked above)",
    }
    for (resource, verb), names in sorted(pinned.items()):
        if resource == "secrets":
            continue
        used = uses.get(resource)
        if used is None:
            problems.append(f"{verb} {resource} is pinned to {sorted(names)}, but kip's name for it is not fixed")
        elif used not in names:
            problems.append(f"{verb} {resource} is pinned to {sorted(names)}, but kip uses {used!r}")
    if ("configmaps", "watch") not in pinned:
        problems.append("the ConfigMap's fixed name is known: pin configmaps to it")

    ref = binding.get("roleRef") or {}
    if ref.get("kind") != "Role" or ref.get("name") != name_of(role):
        problems.append(f"the RoleBinding must refer to Role {name_of(role)!r}, refers to {ref}")
    subjects = binding.get("subjects") or []
    if [(s.get("kind"), s.get("name")) for s in subjects] != [("ServiceAccount", name_of(service_account))]:
        problems.append(f"the RoleBinding must bind ServiceAccount {name_of(service_account)!r} only")
    return problems

def check_node_access(objects: list[dict[str, Any]], verbs: set[str] | None) -> list[str]:
    """Without the node-access option (`verbs` None), nothing cluster-scoped; with it, one
    ClusterRole granting exactly `verbs` on nodes, bound to kip's ServiceAccount in its
    namespace."""
    problems: list[str] = []
    roles = by_kind(objects, "ClusterRole")
    bindings = by_kind(objects, "ClusterRoleBinding")
    if verbs is None:
        if roles or bindings:
            problems.append(f"cluster-scoped RBAC is not allowed here: {[o.get('kind') for o in roles + bindings]}")
        return problems
    if len(roles) != 1 or len(bindings) != 1:
        return [f"expected one ClusterRole and one ClusterRoleBinding, found {len(roles)} and {len(bindings)}"]
    granted = {
        (group, resource, verb)
        for rule in roles[0].get("rules") or []
        for group in rule.get("apiGroups") or []
        for resource in rule.get("resources") or []
        for verb in rule.get("verbs") or []
    }
    wanted = {("", "nodes", verb) for verb in verbs}
    if granted != wanted:
        problems.append(f"the ClusterRole grants {sorted(granted)}, expected {sorted(wanted)}")
    if any(rule.get("resourceNames") for rule in roles[0].get("rules") or []):
        problems.append("the ClusterRole pins node names: kip reads and writes every selected node")
    ref = bindings[0].get("roleRef") or {}
    if ref.get("kind") != "ClusterRole" or ref.get("name") != name_of(roles[0]):
        problems.append(f"the ClusterRoleBinding must refer to ClusterRole {name_of(roles[0])!r}, refers to {ref}")
    service_account = one(objects, "ServiceAccount", problems)
    config_map = one(objects, "ConfigMap", problems)
    namespace = ((config_map or {}).get("data") or {}).get("NAMESPACE")
    subjects = [(s.get("kind"), s.get("name"), s.get("namespace")) for s in bindings[0].get("subjects") or []]
    if subjects != [("ServiceAccount", name_of(service_account), namespace)]:
        problems.append(f"the ClusterRoleBinding must bind ServiceAccount {name_of(service_account)!r} of namespace {namespace!r}, binds {subjects}")
    return problems


def rbac_grants(objects: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    """The (group, resource, verb) grants of the installation's Role, names aside, but for
    reading pull secrets, which depends on whether the installation knows their names."""
    grants = set()
    for role in by_kind(objects, "Role"):
        for rule in role.get("rules") or []:
            for group in rule.get("apiGroups") or []:
                for resource in rule.get("resources") or []:
                    grants |= {(group, resource, verb) for verb in rule.get("verbs") or []}
    return grants - {PULL_SECRET_CALL}
