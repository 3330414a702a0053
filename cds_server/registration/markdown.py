"""The registration sheet as Markdown (``cds-server docs registration > sheet.md``)."""

from __future__ import annotations

from typing import Any


def _cell(value: Any) -> str:
    text = "" if value is None else str(value).strip()
    return text.replace("|", "\\|").replace("\n", " ")


def sheet_markdown(sheet: dict[str, Any]) -> str:
    server, auth = sheet["server"], sheet["authentication"]
    alg = auth["header"]["alg"]
    lines = [
        f"# Registering cds-server {server['version']} in an EHR",
        "",
        f"Discovery: `{server['discoveryUrl']}` · CDS Hooks {server['cdsHooks']} · FHIR {server['fhir']} · "
        f"OpenAPI: `{server['openapi']}`",
        "",
        "## Client JWT (every call)",
        "",
        "| Item | Expected |",
        "|---|---|",
        f"| `alg` | {', '.join(alg['default'])} by default; a client may be registered with "
        f"any of {', '.join(alg['registrable'])}; never {alg['never']} |",
    ]
    for name in ("kid", "typ", "jku"):
        lines.append(f"| `{name}` | {_cell(auth['header'][name])} |")
    for name, text in auth["claims"].items():
        lines.append(f"| `{name}` | {_cell(text)} |")
    lines += ["", f"Errors: {auth['errors']}.", ""]
    for service in sheet["services"]:
        lines += _service(service)
    return "\n".join(lines).rstrip() + "\n"


def _service(service: dict[str, Any]) -> list[str]:
    scopes = " ".join(f"`{scope}`" for scope in service["fhirAuthorizationScopes"])
    lines = [
        f"## {service['title'] or service['id']} (`{service['id']}`)",
        "",
        _cell(service["description"]),
        "",
        "| Item | Value |",
        "|---|---|",
        f"| Hooks | {', '.join(f'`{hook}`' for hook in service['hooks'])} |",
        f"| Service URL (JWT `aud` of a hook call) | `{service['url']}` |",
        f"| Feedback URL (JWT `aud` of feedback) | `{service['feedbackUrl']}` |",
        f"| `fhirAuthorization` scopes | {scopes or 'none'} |",
    ]
    if service["usageRequirements"]:
        lines.append(f"| Usage requirements | {_cell(service['usageRequirements'])} |")
    model = service.get("model")
    if model:
        lines.append(f"| Model | `{model['id']}` {model['version']}, card: {model['card']} |")
    by_hook: dict[str, list[dict[str, Any]]] = service["prefetch"]
    shared = service["prefetchSameForEveryHook"]
    for hook, items in by_hook.items():
        title = "Prefetch templates" + ("" if shared else f" of `{hook}`")
        lines += ["", f"{title}:", "", "| Key | Template | Required | Scopes |", "|---|---|---|---|"]
        for item in items:
            lines.append(
                f"| `{item['key']}` | `{_cell(item['template'])}` | {'yes' if item['required'] else 'no'} | "
                f"{', '.join(f'`{s}`' for s in item['scopes'])} |"
            )
        if shared:
            break
    cards = service.get("cards")
    if cards:
        topic = cards["topic"]
        lines += [
            "",
            "Cards:",
            "",
            f"- type (`source.topic`): `{topic['system']}` `{topic['code']}` — {topic['display']}",
            f"- indicators: {', '.join(cards['indicators'])}; summary: “{cards['summary']}”",
            f"- shown when: {cards['shownWhen'] or 'always'}; when not scored: {cards['whenNotScored']}",
        ]
        for suggestion in cards["suggestions"]:
            lines.append(
                f"- suggestion: “{suggestion['label']}” ({suggestion['action']} {suggestion['resourceType']})"
            )
        for link in cards["links"]:
            lines.append(f"- link: {link['label']} — `{link['url']}`")
        reasons = ", ".join(f"`{r['code']}`" for r in cards["overrideReasons"])
        lines.append(f"- override reasons offered: {reasons}")
    lines.append("")
    return lines
