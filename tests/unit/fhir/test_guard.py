"""The fhirServer SSRF guard decides before any connection is made."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from cds_server.fhir.guard import FhirServerGuard
from cds_server.fhir.guard import FhirServerPolicy
from cds_server.fhir.guard import FhirServerRejected
from cds_server.fhir.guard import normalize_base
from cds_server.fhir.guard import same_origin_under

ALLOWED = ["https://ehr.example.org/fhir/r4", "http://dev.example.org:8080/fhir/"]


class StubResolver:
    def __init__(self, answers: dict[str, Sequence[str]]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    def __call__(self, host: str, port: int) -> Sequence[str]:
        self.asked.append(host)
        if host not in self.answers:
            raise OSError("no such host")
        return self.answers[host]


def guard(
    *, allow_http: bool = False, allow_private: bool = False, answers: dict[str, Sequence[str]] | None = None
) -> FhirServerGuard:
    policy = FhirServerPolicy.build(ALLOWED, [], allow_http=allow_http, allow_private=allow_private)
    resolver = StubResolver(
        answers
        if answers is not None
        else {"ehr.example.org": ["93.184.216.34"], "dev.example.org": ["93.184.216.35"]}
    )
    return FhirServerGuard(policy, resolver=resolver)


def test_allowed_base_passes_in_any_harmless_spelling() -> None:
    g = guard()
    for url in (
        "https://ehr.example.org/fhir/r4",
        "https://EHR.example.org:443/fhir/r4/",
        " https://ehr.example.org/fhir/r4 ",
    ):
        assert g.check(url) == "https://ehr.example.org/fhir/r4"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://evil.test/fhir", "fhir-server-not-allowed"),
        ("https://ehr.example.org/fhir", "fhir-server-not-allowed"),
        ("https://ehr.example.org/fhir/r4/../../admin", "fhir-server-not-allowed"),
        ("https://ehr.example.org@evil.test/fhir/r4", "userinfo-not-allowed"),
        ("https://user:pw@ehr.example.org/fhir/r4", "userinfo-not-allowed"),
        ("https://ehr.example.org/fhir/r4?x=1", "query-not-allowed"),
        ("https://ehr.example.org/fhir/r4#frag", "query-not-allowed"),
        ("ftp://ehr.example.org/fhir/r4", "scheme-not-allowed"),
        ("file:///etc/passwd", "scheme-not-allowed"),
        ("http://dev.example.org:8080/fhir", "https-required"),
        ("https://169.254.169.254/latest", "fhir-server-not-allowed"),
        ("https://127.0.0.1:5432", "fhir-server-not-allowed"),
        ("https://[::1]/", "fhir-server-not-allowed"),
        ("https://10.0.0.1/", "fhir-server-not-allowed"),
        ("https://ehr.example.org:99999/fhir/r4", "malformed-url"),
    ],
)
def test_rejections(url: str, reason: str) -> None:
    with pytest.raises(FhirServerRejected) as caught:
        guard().check(url)
    assert caught.value.reason == reason


def test_http_only_when_allowed() -> None:
    assert (
        guard(allow_http=True).check("http://dev.example.org:8080/fhir") == "http://dev.example.org:8080/fhir"
    )


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "192.168.0.9",
        "169.254.169.254",
        "::1",
        "fd00::1",
        "::ffff:127.0.0.1",
        "0.0.0.0",
    ],
)
def test_allowed_host_resolving_to_a_private_address_is_refused(address: str) -> None:
    g = guard(answers={"ehr.example.org": [address]})
    with pytest.raises(FhirServerRejected) as caught:
        g.check("https://ehr.example.org/fhir/r4")
    assert caught.value.reason == "private-address-not-allowed"
    assert guard(allow_private=True, answers={"ehr.example.org": [address]}).check(
        "https://ehr.example.org/fhir/r4"
    )


def test_one_private_address_among_public_ones_is_enough_to_refuse() -> None:
    g = guard(answers={"ehr.example.org": ["93.184.216.34", "10.0.0.7"]})
    with pytest.raises(FhirServerRejected):
        g.check("https://ehr.example.org/fhir/r4")


def test_dns_failure_is_a_rejection() -> None:
    with pytest.raises(FhirServerRejected) as caught:
        guard(answers={}).check("https://ehr.example.org/fhir/r4")
    assert caught.value.reason == "dns-failure"


def test_not_allowed_urls_are_refused_without_even_a_dns_lookup() -> None:
    policy = FhirServerPolicy.build(ALLOWED, [], allow_http=False, allow_private=False)
    resolver = StubResolver({})
    with pytest.raises(FhirServerRejected):
        FhirServerGuard(policy, resolver=resolver).check("https://attacker.test/fhir")
    assert resolver.asked == []


def test_dns_answers_are_cached() -> None:
    policy = FhirServerPolicy.build(ALLOWED, [], allow_http=False, allow_private=False)
    resolver = StubResolver({"ehr.example.org": ["93.184.216.34"]})
    g = FhirServerGuard(policy, resolver=resolver)
    g.check("https://ehr.example.org/fhir/r4")
    g.check("https://ehr.example.org/fhir/r4")
    assert resolver.asked == ["ehr.example.org"]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://ehr.example.org/fhir/r4/Observation?_page=2", True),
        ("https://ehr.example.org/fhir/r4", True),
        ("https://ehr.example.org/fhir/r40/Observation", False),
        ("https://ehr.example.org/other/Observation", False),
        ("http://ehr.example.org/fhir/r4/Observation", False),
        ("https://ehr.example.org:8443/fhir/r4/Observation", False),
        ("https://evil.test/fhir/r4/Observation", False),
        ("https://ehr.example.org@evil.test/fhir/r4/Observation", False),
    ],
)
def test_next_links_stay_under_the_base(url: str, expected: bool) -> None:
    assert same_origin_under(url, "https://ehr.example.org/fhir/r4") is expected


def test_normalize_base() -> None:
    assert normalize_base("HTTPS://Ehr.Example.org:443/fhir/") == "https://ehr.example.org/fhir"
    assert normalize_base("http://[::1]:8080/x") == "http://[::1]:8080/x"
