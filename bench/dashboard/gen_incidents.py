#!/usr/bin/env python3
"""Seeded generator of Phalanx incidents (STIX `incident` with the Phalanx
property extension, as phalanx-response writes them) for the dashboard
benchmark, as JSON lines.

  gen_incidents.py --org IDENTITY_ID [--count 10000] [--seed 7]

First the two Phalanx label marking-definitions used (EU RESTRICTED REL TO
EU, NATO SECRET REL TO NATO; ids computed as the label contract says and
checked against its test vector), then the incidents: reported by --org
(the importing user's organisation), 50% TLP:GREEN, 30% EU RESTRICTED,
20% NATO SECRET (TLP:AMBER), spread over EU/NATO countries, NIS2 sectors,
impact severities and statuses, aware within the last 30 days.
"""
import argparse
import json
import random
import uuid

LABEL_NS = uuid.UUID("a695434a-e898-43a6-9662-afb02ffa663b")
LABEL_EXT = "extension-definition--8ea66e3e-9f13-48ea-8a0f-a87be27069e0"
INCIDENT_EXT = "extension-definition--36e73302-625e-5a78-a0d0-309887e536d0"
TLP_GREEN = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
TLP_AMBER = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"
NOW_S = 1795824000  # 2026-11-28T00:00:00Z

COUNTRIES = ["AUT", "BEL", "BGR", "HRV", "CYP", "CZE", "DNK", "EST", "FIN", "FRA", "DEU", "GRC", "HUN", "IRL", "ITA",
             "LVA", "LTU", "LUX", "MLT", "NLD", "POL", "PRT", "ROU", "SVK", "SVN", "ESP", "SWE", "NOR", "GBR", "TUR"]
SECTORS = ["energy-electricity", "energy-gas", "transport-air", "transport-rail", "transport-water", "banking", "health",
           "drinking-water", "digital-infrastructure", "public-administration", "space", "chemicals", "research"]
IMPACT = ["red", "yellow", "green", "white", None]
THREAT = ["high", "medium", "low"]
STATUS = ["new", "triaged", "analysing", "containing", "recovering", "closed", "reviewed"]


def label_id(canonical):
    return "marking-definition--" + str(uuid.uuid5(LABEL_NS, canonical))


def label_definition(policy, classification, rel, name):
    canonical = f"{policy}|{classification}|{','.join(sorted(rel))}|||"
    return {
        "type": "marking-definition", "spec_version": "2.1", "id": label_id(canonical),
        "created": "2026-01-01T00:00:00.000Z", "name": name,
        "extensions": {LABEL_EXT: {"extension_type": "property-extension", "policy": policy,
                                   "classification": classification, "releasable_to": rel}},
    }


def ts(secs, ms):
    import time
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{ms:03d}Z"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--org", required=True)
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    assert label_id("NATO|SECRET|EU||amber|") == "marking-definition--4fb0d4c5-a754-5cd8-a2c2-13e50e40ff02"
    rng = random.Random(args.seed)
    eu = label_definition("EU", "RESTRICTED", ["EU"], "RESTREINT UE/EU RESTRICTED REL TO EU")
    nato = label_definition("NATO", "SECRET", ["NATO"], "NATO SECRET REL TO NATO")
    print(json.dumps(eu))
    print(json.dumps(nato))
    for i in range(args.count):
        r = rng.random()
        markings = [TLP_GREEN] if r < 0.5 else ([TLP_AMBER, eu["id"]] if r < 0.8 else [TLP_AMBER, nato["id"]])
        aware = NOW_S - rng.randrange(30 * 86400)
        created = aware + rng.randrange(3600)
        status = rng.choice(STATUS)
        ext = {
            "extension_type": "property-extension",
            "reporter_ref": args.org,
            "affected_countries": sorted(set(rng.sample(COUNTRIES, rng.choice([1, 1, 1, 2, 3])))),
            "sectors": sorted(set(rng.sample(SECTORS, rng.choice([1, 1, 2])))),
            "entity_class": rng.choice(["essential", "important", "none"]),
            "nis_threat_severity": rng.choice(THREAT),
            "significant": rng.random() < 0.4,
            "cross_border": rng.random() < 0.2,
            "large_scale": False,
            "trust_service_provider": rng.random() < 0.05,
            "status": status,
            "aware_at": ts(aware, rng.randrange(1000)),
            "timeline": [{"time": ts(created, 0), "author": "user:bench", "text": "incident opened"}],
        }
        impact = rng.choice(IMPACT)
        if impact:
            ext["nis_impact_severity"] = impact
        if status != "new":
            ext["status_history"] = [{"from_state": "new", "to_state": status, "time": ts(created + 60, 0),
                                      "actor": "user:bench"}]
        print(json.dumps({
            "type": "incident", "spec_version": "2.1",
            "id": "incident--" + str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "created_by_ref": args.org, "created": ts(created, 0), "modified": ts(created + 60, 0),
            "name": f"Bench incident {i}", "object_marking_refs": markings,
            "extensions": {INCIDENT_EXT: ext},
        }))


if __name__ == "__main__":
    main()
