#!/usr/bin/env python3
"""Seeded generator of a large corpus of mixed, valid STIX 2.1 objects.

  gen_corpus.py [--count N] [--seed S] [--format jsonl|bundle] [--out PATH]

Defaults: --count 1000000, --seed 42, --format jsonl, output to stdout.

The same seed and count always give byte-identical output: a single
random.Random(seed) drives every choice and "now" is fixed (NOW below), so no
clock, no hash order and no os.urandom is involved.

What comes out (about, for large N):
  * first the five TLP 2.0 marking-definitions (standard ids and content), then
    a warm-up block of identities, malware, attack-patterns, threat-actors, ...
    so that every reference points to an object that appears earlier;
  * then a weighted mix: indicators (STIX patterns over ipv4/domain/url/file
    hashes/email, some compound or with qualifiers), SCOs (ipv4-addr,
    domain-name, url, file, email-addr), relationships and sightings over earlier
    ids, malware (is_family), threat-actor, intrusion-set, campaign,
    attack-pattern (ATT&CK-style external_references), identity,
    report/grouping/note (object_refs), observed-data (object_refs to SCOs);
  * about 30% of SDOs/SROs (and some SCOs) carry a TLP 2.0 object_marking_refs;
  * about 3% of the lines are later versions of an SDO already emitted (same id
    and created, larger modified, changed description/confidence/labels);
  * SCO ids are the deterministic UUIDv5 of STIX 2.1 §2.9 (namespace
    00abedb4-aa42-466c-9c01-fed23315a9b7, name = RFC 8785 JSON of the
    ID-contributing properties: {"value": ...}, or for file one hash in the
    order MD5, SHA-1, SHA-256, SHA-512 plus name). SCO values are unique, so
    no SCO id repeats. SDO/SRO ids are UUIDv4 drawn from the seeded generator.

Timestamps have millisecond precision and a Z suffix; none is later than NOW
except some indicator valid_until values (validity that runs into the future).
Standard library only (json, random, uuid, hashlib, ...): 1,000,000 objects (about
470 MB of JSON lines) take about 20 s of CPU on one core of the project machine.
A shorter run is a prefix of a longer one with the same seed.

Checked (seed 42): on the first 2,000 objects and on 2,000 from the middle of
the 1M corpus, stix2-validator 3.3.2 (version 2.1) finds 0 errors (its only
warnings are {302} extref-hashes: attack-pattern references carry a URL without
hashes, as ATT&CK's do), OASIS stix2.parse(..., allow_custom=True) accepts every
object, stix2-patterns accepts every pattern, and the SCO ids equal those that
stix2 3.0.2 computes. Over the whole 1M: no SCO id repeats, every later version
has a larger modified, and every *_ref(s) points to an object emitted earlier.
  python3 bench/gen_corpus.py --count 2000 --format bundle --out /tmp/s.json
  python3 interop/validate_bundles.py /tmp/s.json
"""
import argparse
import calendar
import hashlib
import itertools
import json
import random
import sys
import time
import uuid

NOW_S = 1795824000  # 2026-11-28T00:00:00Z: the fixed "now" (deterministic output)
NOW_MS = NOW_S * 1000
YEAR_MS = 365 * 24 * 3600 * 1000
DAY_MS = 24 * 3600 * 1000

FIRST_OCTETS = [a for a in range(1, 224) if a not in (10, 127)]
IPV4_SPACE = len(FIRST_OCTETS) << 24  # 2654435761 is prime, so coprime with this

SCO_NAMESPACE = uuid.UUID("00abedb4-aa42-466c-9c01-fed23315a9b7")

TLP2_EXT = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
TLP2 = [  # (level, id, name) per shared/spec/security-labels.md §6
    ("clear", "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487", "TLP:CLEAR"),
    ("green", "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb", "TLP:GREEN"),
    ("amber", "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421", "TLP:AMBER"),
    ("amber+strict", "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003", "TLP:AMBER+STRICT"),
    ("red", "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1", "TLP:RED"),
]
# how often each level is used on a marked object
TLP_WEIGHTED = ([TLP2[0][1]] * 25 + [TLP2[1][1]] * 35 + [TLP2[2][1]] * 25
                + [TLP2[3][1]] * 10 + [TLP2[4][1]] * 5)

# ---------------------------------------------------------------- vocabularies
WORDS = ("amber falcon granite harbor iron jade kestrel lantern marble nebula onyx "
         "pelican quartz raven saffron tundra umber velvet willow xenon yarrow zephyr "
         "basalt cobalt delta ember fjord glacier hollow indigo juniper krypton lotus "
         "meridian nomad orchid prism quasar ridge sable thistle ultra vortex").split()
NAME_PREFIX = ["Cozy", "Fancy", "Silent", "Iron", "Shadow", "Crimson", "Midnight", "Frozen",
               "Hidden", "Golden", "Rusty", "Electric", "Baltic", "Northern", "Lazy", "Venomous"]
NAME_SUFFIX = ["Bear", "Panda", "Kitten", "Spider", "Chollima", "Typhoon", "Blizzard", "Sleet",
               "Tempest", "Hydra", "Lynx", "Wolf", "Viper", "Hawk", "Badger", "Mantis"]
MALWARE_BASES = ["Emotet", "TrickBot", "QakBot", "AgentTesla", "RedLine", "Cobalt", "PlugX",
                 "ShadowPad", "IcedID", "Raccoon", "LockBit", "BlackCat", "Conti", "Ryuk",
                 "Sliver", "Havoc", "DarkGate", "Pikabot", "SocGholish", "Lumma"]
MALWARE_TYPES = ["backdoor", "bot", "downloader", "dropper", "keylogger", "ransomware",
                 "remote-access-trojan", "spyware", "trojan", "worm", "webshell",
                 "screen-capture"]
MALWARE_CAPS = ["communicates-with-c2", "exfiltrates-data", "persists-after-system-reboot",
                "evades-av", "captures-input-peripherals", "steals-authentication-credentials",
                "escalates-privileges", "compromises-data-integrity"]
TA_TYPES = ["activist", "competitor", "crime-syndicate", "criminal", "hacker", "insider-accidental",
            "insider-disgruntled", "nation-state", "sensationalist", "spy", "terrorist"]
TA_ROLES = ["agent", "director", "independent", "infrastructure-architect",
            "infrastructure-operator", "malware-author", "sponsor"]
SOPHISTICATION = ["none", "minimal", "intermediate", "advanced", "expert", "innovator", "strategic"]
RESOURCE_LEVEL = ["individual", "club", "contest", "team", "organization", "government"]
MOTIVATION = ["accidental", "coercion", "dominance", "ideology", "notoriety",
              "organizational-gain", "personal-gain", "personal-satisfaction", "revenge",
              "unpredictable"]
INDICATOR_TYPES = ["anomalous-activity", "anonymization", "benign", "compromised",
                   "malicious-activity", "attribution", "unknown"]
SECTORS = ["agriculture", "aerospace", "automotive", "communications", "construction",
           "defense", "education", "energy", "entertainment", "financial-services",
           "government-national", "government-regional", "government-local",
           "government-public-services", "healthcare", "hospitality-leisure",
           "infrastructure", "insurance", "manufacturing", "mining", "non-profit",
           "pharmaceuticals", "retail", "technology", "telecommunications",
           "transportation", "utilities"]
REPORT_TYPES = ["attack-pattern", "campaign", "identity", "indicator", "intrusion-set",
                "malware", "observed-data", "threat-actor", "threat-report", "tool",
                "vulnerability"]
GROUPING_CONTEXT = ["suspicious-activity", "malware-analysis", "unspecified"]
KILL_CHAIN = ["reconnaissance", "resource-development", "initial-access", "execution",
              "persistence", "privilege-escalation", "defense-evasion", "credential-access",
              "discovery", "lateral-movement", "collection", "command-and-control",
              "exfiltration", "impact"]
TECHNIQUES = [("T1566", "Phishing"), ("T1566.001", "Spearphishing Attachment"),
              ("T1566.002", "Spearphishing Link"), ("T1059", "Command and Scripting Interpreter"),
              ("T1059.001", "PowerShell"), ("T1071.001", "Web Protocols"),
              ("T1105", "Ingress Tool Transfer"), ("T1486", "Data Encrypted for Impact"),
              ("T1078", "Valid Accounts"), ("T1190", "Exploit Public-Facing Application"),
              ("T1133", "External Remote Services"), ("T1003.001", "LSASS Memory"),
              ("T1021.001", "Remote Desktop Protocol"), ("T1041", "Exfiltration Over C2 Channel"),
              ("T1547.001", "Registry Run Keys / Startup Folder"), ("T1053.005", "Scheduled Task"),
              ("T1027", "Obfuscated Files or Information"), ("T1204.002", "Malicious File"),
              ("T1568.002", "Domain Generation Algorithms"), ("T1573.002", "Asymmetric Cryptography")]
ORGS = ["CERT-EU", "CERT.LV", "CERT-EE", "NCSC-LT", "CERT.PL", "CERT-FR", "BSI CERT-Bund",
        "NCSC-NL", "CCN-CERT", "CSIRT-CZ", "CERT.at", "Danish CFCS", "Ministry of Defence",
        "National Grid Operator", "Port Authority", "Regional Hospital", "Central Bank",
        "Telecom Operator", "Rail Infrastructure Manager", "Water Utility"]
CITIES = ["Tallinn", "Rīga", "Vilnius", "Kraków", "Brussels", "Den Haag", "Zürich", "Göteborg",
          "København", "Łódź", "Thessaloniki", "Málaga"]
TLDS = ["com", "net", "org", "info", "biz", "xyz", "top", "ru", "cn", "io", "eu", "co", "online"]
URL_PATHS = ["login", "update", "invoice", "wp-content/plugins", "gate.php", "api/v1/beacon",
             "download", "secure/verify", "cdn/js", "images/logo.png", "admin/config.bin"]
FILE_EXT = ["exe", "dll", "docm", "xlsm", "js", "vbs", "ps1", "zip", "iso", "lnk", "hta", "bin"]
FIRST = ["anna", "jonas", "marta", "lukas", "eva", "tomas", "ieva", "piotr", "sofia", "jens",
         "zoe", "ants", "kart", "andrius", "maija"]  # ASCII: the validator's email check wants it
DISPLAY_NAMES = ["Jöns Käärik", "Zoë Ņikitina", "Kärt Tamm", "Łukasz Wójcik", "Ieva Šimkutė",
                 "Anna Müller", "Tomáš Dvořák", "Søren Ærø", "Marta Gómez", "Andrius Žukauskas"]
DESCR = [
    "Observed in spear-phishing waves against {sector} organisations in {city}.",
    "Infrastructure overlaps with activity reported by {org} in {year}.",
    "Delivered through malicious {ext} attachments; beacons over HTTPS every {n} seconds.",
    "Reported by {org}; moderate confidence, corroborated by passive DNS.",
    "Part of a credential-harvesting campaign impersonating {org}.",
    "C2 rotated weekly; hosting in bulletproof ranges. Seen in {city} and nearby.",
]


def fmt_ms(ms):
    """Epoch milliseconds -> STIX timestamp with millisecond precision and Z."""
    t = time.gmtime(ms // 1000)
    return "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (
        t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, ms % 1000)


def fmt_s(ms):
    """Epoch milliseconds -> STIX timestamp with second precision (patterns, qualifiers)."""
    t = time.gmtime(ms // 1000)
    return "%04d-%02d-%02dT%02d:%02d:%02dZ" % (
        t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec)


_JCS = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode
_NS_BYTES = SCO_NAMESPACE.bytes


def sco_id(typ, contributing):
    """STIX 2.1 §2.9 deterministic SCO id: UUIDv5 in SCO_NAMESPACE over the RFC 8785 (JCS)
    serialisation of the ID-contributing properties. For these ASCII-keyed objects of strings
    and dicts, sorted keys, no whitespace and no \\u escaping of non-ASCII is exactly JCS.
    Same result as uuid.uuid5(SCO_NAMESPACE, name), computed inline for speed."""
    d = bytearray(hashlib.sha1(_NS_BYTES + _JCS(contributing).encode("utf-8")).digest()[:16])
    d[6] = (d[6] & 0x0F) | 0x50
    d[8] = (d[8] & 0x3F) | 0x80
    h = d.hex()
    return "%s--%s-%s-%s-%s-%s" % (typ, h[:8], h[8:12], h[12:16], h[16:20], h[20:])


def file_id_props(hashes, name):
    props = {}
    for algo in ("MD5", "SHA-1", "SHA-256", "SHA-512"):
        if algo in hashes:
            props["hashes"] = {algo: hashes[algo]}
            break
    if name is not None:
        props["name"] = name
    return props


class Gen:
    def __init__(self, seed):
        r = random.Random(seed)
        self.r = r
        rand = self.rand = r.random
        self.bits = r.getrandbits
        # faster than Random.choice/randint (which loop on getrandbits); the tiny
        # bias of int(random() * n) does not matter here
        self.choice = lambda seq: seq[int(rand() * len(seq))]
        self.randint = lambda lo, hi: lo + int(rand() * (hi - lo + 1))
        # pools of ids already emitted, per type
        self.pool = {t: [] for t in (
            "identity", "malware", "threat-actor", "intrusion-set", "campaign",
            "attack-pattern", "indicator", "observed-data", "report", "sighting",
            "relationship", "ipv4-addr", "domain-name", "url", "file", "email-addr",
            "grouping", "note")}
        self.sco_pool = []          # ids of every SCO (for observed-data)
        self.values = {"ipv4": [], "domain": [], "url": [], "md5": [], "sha256": [], "email": []}
        self.versionable = []       # recent SDO dicts that may get a later version
        self.counter = 0            # makes SCO values unique

    # ------------------------------------------------------------ primitives
    def uuid4(self, typ):
        h = "%032x" % self.bits(128)
        return "%s--%s-%s-4%s-%s%s-%s" % (typ, h[:8], h[8:12], h[13:16],
                                         "89ab"[int(h[16], 16) & 3], h[17:20], h[20:32])

    def past_ms(self, max_ago=3 * YEAR_MS, min_ago=DAY_MS):
        return NOW_MS - self.randint(min_ago, max_ago)

    def hexstr(self, nbytes):
        return "%0*x" % (nbytes * 2, self.bits(nbytes * 8))

    def pick(self, typ):
        p = self.pool[typ]
        # bias towards recent objects, like a live feed, but reach back too
        if len(p) > 64 and self.rand() < 0.5:
            return p[self.randint(len(p) - 64, len(p) - 1)]
        return p[self.randint(0, len(p) - 1)]

    def sample(self, typ, lo, hi):
        p = self.pool[typ]
        k = min(len(p), self.randint(lo, hi))
        out = []
        seen = set()
        for _ in range(k * 3):
            if len(out) == k:
                break
            x = p[self.randint(0, len(p) - 1)]
            if x not in seen:
                seen.add(x)
                out.append(x)
        return out

    def descr(self):
        return self.choice(DESCR).format(
            sector=self.choice(SECTORS), city=self.choice(CITIES), org=self.choice(ORGS),
            year=self.randint(2019, 2026), ext=self.choice(FILE_EXT), n=self.randint(30, 900))

    def common(self, typ, created_ms):
        ts = fmt_ms(created_ms)
        o = {"type": typ, "spec_version": "2.1", "id": self.uuid4(typ),
             "created": ts, "modified": ts}
        if self.pool["identity"] and self.rand() < 0.9:
            o["created_by_ref"] = self.pick("identity")
        return o

    def finish(self, o, versionable=False):
        r = self.rand()
        if r < 0.30:
            o["object_marking_refs"] = [self.choice(TLP_WEIGHTED)]
        if self.rand() < 0.5:
            o["confidence"] = self.choice((15, 30, 50, 70, 85, 95, 100))
        self.pool[o["type"]].append(o["id"])
        if versionable and self.rand() < 0.08:
            self.versionable.append(o)
            if len(self.versionable) > 2000:
                del self.versionable[:1000]
        return o

    # ------------------------------------------------------------ SCOs
    def next_ipv4(self):
        # injective in the counter: a prime multiplier modulo len(FIRST_OCTETS) * 2^24,
        # so no address repeats (first octet never 0, 10, 127 or >= 224)
        self.counter += 1
        v = (self.counter * 2654435761) % IPV4_SPACE
        return "%d.%d.%d.%d" % (FIRST_OCTETS[v >> 24], (v >> 16) & 255, (v >> 8) & 255, v & 255)

    def next_domain(self):
        self.counter += 1
        return "%s-%s-%s.%s" % (self.choice(WORDS), self.choice(WORDS),
                                base36(self.counter), self.choice(TLDS))

    def sco_common(self, typ, sid):
        o = {"type": typ, "spec_version": "2.1", "id": sid}
        return o

    def ipv4(self):
        v = self.next_ipv4()
        o = self.sco_common("ipv4-addr", sco_id("ipv4-addr", {"value": v}))
        o["value"] = v
        self.values["ipv4"].append(v)
        return self.sco_done(o)

    def domain(self):
        v = self.next_domain()
        o = self.sco_common("domain-name", sco_id("domain-name", {"value": v}))
        o["value"] = v
        self.values["domain"].append(v)
        return self.sco_done(o)

    def url(self):
        d = self.choice(self.values["domain"]) if self.values["domain"] and self.rand() < 0.5 \
            else self.next_domain()
        self.counter += 1
        v = "%s://%s/%s?id=%s" % ("https" if self.rand() < 0.8 else "http", d,
                                   self.choice(URL_PATHS), base36(self.counter))
        o = self.sco_common("url", sco_id("url", {"value": v}))
        o["value"] = v
        self.values["url"].append(v)
        return self.sco_done(o)

    def email(self):
        self.counter += 1
        d = self.choice(self.values["domain"]) if self.values["domain"] else self.next_domain()
        v = "%s.%s.%s@%s" % (self.choice(FIRST), self.choice(WORDS), base36(self.counter), d)
        o = self.sco_common("email-addr", sco_id("email-addr", {"value": v}))
        o["value"] = v
        if self.rand() < 0.3:
            o["display_name"] = self.choice(DISPLAY_NAMES)
        self.values["email"].append(v)
        return self.sco_done(o)

    def file(self):
        hashes = {}
        r = self.rand()
        if r < 0.7:
            hashes["MD5"] = self.hexstr(16)
        if r < 0.5 or r > 0.9:
            hashes["SHA-1"] = self.hexstr(20)
        hashes["SHA-256"] = self.hexstr(32)
        if r > 0.95:
            hashes["SHA-512"] = self.hexstr(64)
        name = "%s_%s.%s" % (self.choice(WORDS), self.hexstr(3), self.choice(FILE_EXT)) \
            if self.rand() < 0.85 else None
        o = self.sco_common("file", sco_id("file", file_id_props(hashes, name)))
        o["hashes"] = hashes
        if name is not None:
            o["name"] = name
        if self.rand() < 0.7:
            o["size"] = self.randint(512, 40_000_000)
        if "MD5" in hashes:
            self.values["md5"].append(hashes["MD5"])
        self.values["sha256"].append(hashes["SHA-256"])
        return self.sco_done(o)

    def sco_done(self, o):
        if self.rand() < 0.1:
            o["object_marking_refs"] = [self.choice(TLP_WEIGHTED)]
        self.pool[o["type"]].append(o["id"])
        self.sco_pool.append(o["id"])
        return o

    def value_of(self, kind, fresh):
        vals = self.values[kind]
        if vals and self.rand() < 0.7:
            return self.choice(vals)
        return fresh()

    # ------------------------------------------------------------ patterns
    def comparison(self):
        k = self.randint(0, 9)
        if k <= 2:
            return "ipv4-addr:value = '%s'" % self.value_of("ipv4", self.next_ipv4)
        if k == 3:
            ip = self.value_of("ipv4", self.next_ipv4).rsplit(".", 1)[0]
            return "ipv4-addr:value ISSUBSET '%s.0/24'" % ip
        if k <= 5:
            return "domain-name:value = '%s'" % self.value_of("domain", self.next_domain)
        if k == 6:
            return "url:value = '%s'" % self.value_of("url", lambda: "https://%s/%s" % (
                self.next_domain(), self.choice(URL_PATHS)))
        if k == 7:
            return "file:hashes.'SHA-256' = '%s'" % self.value_of("sha256", lambda: self.hexstr(32))
        if k == 8:
            return "file:hashes.MD5 = '%s'" % self.value_of("md5", lambda: self.hexstr(16))
        return "email-addr:value = '%s'" % self.value_of("email", lambda: "x%s@%s" % (
            self.hexstr(3), self.next_domain()))

    def pattern(self):
        r = self.rand()
        if r < 0.70:
            return "[%s]" % self.comparison()
        if r < 0.80:
            return "[%s OR %s]" % (self.comparison(), self.comparison())
        if r < 0.86:
            h = self.value_of("sha256", lambda: self.hexstr(32))
            return "[file:hashes.'SHA-256' = '%s' AND file:name = '%s_%s.%s']" % (
                h, self.choice(WORDS), self.hexstr(2), self.choice(FILE_EXT))
        if r < 0.92:
            return ("[network-traffic:dst_ref.type = 'ipv4-addr' AND "
                    "network-traffic:dst_ref.value = '%s' AND network-traffic:dst_port = %d]"
                    % (self.value_of("ipv4", self.next_ipv4), self.choice((443, 80, 8080, 4444, 53))))
        if r < 0.96:
            return "[%s] AND [%s] WITHIN %d SECONDS" % (
                self.comparison(), self.comparison(), self.choice((60, 300, 600, 3600)))
        start = self.past_ms()
        return "[%s] START t'%s' STOP t'%s'" % (
            self.comparison(), fmt_s(start), fmt_s(start + self.randint(1, 90) * DAY_MS))

    # ------------------------------------------------------------ SDOs
    def indicator(self):
        c = self.past_ms()
        o = self.common("indicator", c)
        pat = self.pattern()
        kind = pat[1:pat.index(":")]
        o["name"] = "%s %s" % (self.choice(("Malicious", "Suspicious", "C2", "Phishing",
                                            "Payload", "Scanner")), kind)
        o["description"] = self.descr()  # name and description: a SHOULD (validator {303})
        o["indicator_types"] = [self.choice(INDICATOR_TYPES)]
        o["pattern"] = pat
        o["pattern_type"] = "stix"
        o["pattern_version"] = "2.1"
        vf = c - self.randint(0, 30) * DAY_MS
        o["valid_from"] = fmt_ms(vf)
        if self.rand() < 0.4:
            o["valid_until"] = fmt_ms(vf + self.randint(7, 365) * DAY_MS)
        if self.rand() < 0.3:
            o["kill_chain_phases"] = [{"kill_chain_name": "mitre-attack",
                                       "phase_name": self.choice(KILL_CHAIN)}]
        if self.rand() < 0.3:
            o["labels"] = [self.choice(("apt", "crimeware", "phishing", "c2", "botnet"))]
        return self.finish(o, versionable=True)

    def malware(self):
        c = self.past_ms()
        o = self.common("malware", c)
        fam = self.rand() < 0.85
        o["name"] = "%s%s" % (self.choice(MALWARE_BASES),
                              "" if self.rand() < 0.3 else " v%d.%d" % (self.randint(1, 6), self.randint(0, 9)))
        if self.rand() < 0.6:
            o["description"] = self.descr()
        o["malware_types"] = sorted({self.choice(MALWARE_TYPES) for _ in range(self.randint(1, 2))})
        o["is_family"] = fam
        if fam and self.rand() < 0.4:
            o["aliases"] = ["%s%s" % (self.choice(NAME_PREFIX), self.choice(MALWARE_BASES))]
        fs = c - self.randint(0, 400) * DAY_MS
        o["first_seen"] = fmt_ms(fs)
        if self.rand() < 0.5:
            o["last_seen"] = fmt_ms(min(NOW_MS - 1, fs + self.randint(1, 500) * DAY_MS))
        if self.rand() < 0.5:
            o["capabilities"] = sorted({self.choice(MALWARE_CAPS) for _ in range(self.randint(1, 3))})
        return self.finish(o, versionable=True)

    def actor_name(self):
        return "%s %s" % (self.choice(NAME_PREFIX), self.choice(NAME_SUFFIX))

    def threat_actor(self):
        c = self.past_ms()
        o = self.common("threat-actor", c)
        o["name"] = self.actor_name()
        if self.rand() < 0.7:
            o["description"] = self.descr()
        o["threat_actor_types"] = [self.choice(TA_TYPES)]
        if self.rand() < 0.5:
            o["aliases"] = ["APT%d" % self.randint(1, 45), self.actor_name()]
        o["roles"] = [self.choice(TA_ROLES)]
        o["sophistication"] = self.choice(SOPHISTICATION)
        o["resource_level"] = self.choice(RESOURCE_LEVEL)
        o["primary_motivation"] = self.choice(MOTIVATION)
        return self.finish(o, versionable=True)

    def intrusion_set(self):
        c = self.past_ms()
        o = self.common("intrusion-set", c)
        o["name"] = "%s-%d" % (self.choice(("UNC", "TA", "Storm", "DEV", "TEMP")), self.randint(100, 9999))
        if self.rand() < 0.7:
            o["description"] = self.descr()
        if self.rand() < 0.5:
            o["aliases"] = [self.actor_name()]
        fs = c - self.randint(30, 700) * DAY_MS
        o["first_seen"] = fmt_ms(fs)
        o["last_seen"] = fmt_ms(min(NOW_MS - 1, fs + self.randint(1, 600) * DAY_MS))
        o["goals"] = [self.choice(("espionage", "financial gain", "disruption", "influence"))]
        o["resource_level"] = self.choice(RESOURCE_LEVEL)
        o["primary_motivation"] = self.choice(MOTIVATION)
        return self.finish(o, versionable=True)

    def campaign(self):
        c = self.past_ms()
        o = self.common("campaign", c)
        o["name"] = "Operation %s %s" % (self.choice(WORDS).title(), self.choice(WORDS).title())
        if self.rand() < 0.7:
            o["description"] = self.descr()
        fs = c - self.randint(0, 200) * DAY_MS
        o["first_seen"] = fmt_ms(fs)
        if self.rand() < 0.6:
            o["last_seen"] = fmt_ms(min(NOW_MS - 1, fs + self.randint(1, 120) * DAY_MS))
        o["objective"] = self.choice(("Credential theft", "Data exfiltration from ministries",
                                      "Ransomware deployment", "Disruption of energy distribution"))
        return self.finish(o, versionable=True)

    def attack_pattern(self):
        c = self.past_ms()
        o = self.common("attack-pattern", c)
        tid, tname = self.choice(TECHNIQUES)
        o["name"] = tname
        o["description"] = "Adversaries may use %s. %s" % (tname.lower(), self.descr())
        o["external_references"] = [{
            "source_name": "mitre-attack", "external_id": tid,
            "url": "https://attack.mitre.org/techniques/%s/" % tid.replace(".", "/")}]
        if self.rand() < 0.3:
            o["external_references"].append({"source_name": "capec",
                                             "external_id": "CAPEC-%d" % self.randint(1, 700)})
        o["kill_chain_phases"] = [{"kill_chain_name": "mitre-attack",
                                   "phase_name": self.choice(KILL_CHAIN)}]
        return self.finish(o, versionable=True)

    def identity(self):
        c = self.past_ms()
        o = self.common("identity", c)
        o.pop("created_by_ref", None)
        org = self.choice(ORGS)
        o["name"] = org if self.rand() < 0.5 else "%s (%s)" % (org, self.choice(CITIES))
        o["identity_class"] = self.choice(("organization",) * 6 + ("individual", "group", "system"))
        if self.rand() < 0.8:
            o["sectors"] = [self.choice(SECTORS)]
        if self.rand() < 0.4:
            o["contact_information"] = "soc@%s" % self.next_domain()
        return self.finish(o, versionable=True)

    def report(self):
        c = self.past_ms(max_ago=YEAR_MS)
        o = self.common("report", c)
        o["name"] = "%s activity report %d-%03d" % (self.choice(ORGS), self.randint(2020, 2026),
                                                   self.randint(1, 400))
        if self.rand() < 0.8:
            o["description"] = self.descr()
        o["report_types"] = [self.choice(REPORT_TYPES)]
        o["published"] = fmt_ms(c)
        o["object_refs"] = self.mixed_refs(2, 25)
        return self.finish(o, versionable=True)

    def grouping(self):
        c = self.past_ms(max_ago=YEAR_MS)
        o = self.common("grouping", c)
        o["name"] = "Case %s-%04d" % (self.choice(("IR", "CASE", "INC")), self.randint(1, 9999))
        o["context"] = self.choice(GROUPING_CONTEXT)
        o["object_refs"] = self.mixed_refs(2, 12)
        return self.finish(o)

    def note(self):
        c = self.past_ms(max_ago=YEAR_MS)
        o = self.common("note", c)
        if self.rand() < 0.6:
            o["abstract"] = self.choice(("Analyst comment", "Triage note", "Handover",
                                         "Correlation hit", "Kommentar"))
        o["content"] = self.descr()
        if self.rand() < 0.5:
            o["authors"] = [self.choice(FIRST).title()]
        o["object_refs"] = self.mixed_refs(1, 4)
        return self.finish(o)

    def mixed_refs(self, lo, hi):
        kinds = ("indicator", "indicator", "malware", "threat-actor", "intrusion-set",
                 "campaign", "attack-pattern", "relationship", "identity", "observed-data")
        refs = []
        seen = set()
        for _ in range(self.randint(lo, hi)):
            k = self.choice(kinds)
            if self.pool[k]:
                x = self.pick(k)
                if x not in seen:
                    seen.add(x)
                    refs.append(x)
        if not refs:
            refs.append(self.pick("identity"))
        return refs

    def observed_data(self):
        c = self.past_ms(max_ago=YEAR_MS)
        o = self.common("observed-data", c)
        fo = c - self.randint(0, 3 * DAY_MS)
        o["first_observed"] = fmt_ms(fo)
        o["last_observed"] = fmt_ms(min(c, fo + self.randint(0, 6 * 3600 * 1000)))
        o["number_observed"] = self.randint(1, 500)
        p = self.sco_pool
        k = self.randint(1, 4)
        refs = []
        for _ in range(k):
            x = p[self.randint(max(0, len(p) - 5000), len(p) - 1)]
            if x not in refs:
                refs.append(x)
        o["object_refs"] = refs
        return self.finish(o)

    # ------------------------------------------------------------ SROs
    REL_RULES = [  # (source type, relationship_type, target types), all in the STIX 2.1 suggested set
        ("indicator", "indicates", ("malware", "threat-actor", "intrusion-set", "campaign",
                                    "attack-pattern")),
        ("indicator", "based-on", ("observed-data",)),
        ("malware", "uses", ("attack-pattern",)),
        ("malware", "communicates-with", ("ipv4-addr", "domain-name", "url")),
        ("malware", "drops", ("file",)),
        ("malware", "targets", ("identity",)),
        ("malware", "authored-by", ("threat-actor", "intrusion-set")),
        ("threat-actor", "uses", ("malware", "attack-pattern")),
        ("threat-actor", "targets", ("identity",)),
        ("threat-actor", "attributed-to", ("identity",)),
        ("intrusion-set", "uses", ("malware", "attack-pattern")),
        ("intrusion-set", "attributed-to", ("threat-actor",)),
        ("intrusion-set", "targets", ("identity",)),
        ("campaign", "attributed-to", ("threat-actor", "intrusion-set")),
        ("campaign", "uses", ("malware", "attack-pattern")),
        ("campaign", "targets", ("identity",)),
        ("domain-name", "resolves-to", ("ipv4-addr",)),
        ("indicator", "related-to", ("indicator", "report")),
    ]
    REL_WEIGHTS = [30, 4, 6, 6, 2, 2, 2, 6, 3, 1, 5, 2, 2, 3, 3, 2, 5, 2]
    REL_CUM = list(itertools.accumulate(REL_WEIGHTS))

    def relationship(self):
        for _ in range(10):
            src_t, rtype, tgts = self.r.choices(self.REL_RULES, cum_weights=self.REL_CUM)[0]
            tgt_t = self.choice(tgts)
            if self.pool[src_t] and self.pool[tgt_t]:
                break
        else:
            src_t, rtype, tgt_t = "indicator", "indicates", "malware"
        c = self.past_ms(max_ago=YEAR_MS)
        o = self.common("relationship", c)
        o["relationship_type"] = rtype
        o["source_ref"] = self.pick(src_t)
        o["target_ref"] = self.pick(tgt_t)
        if o["source_ref"] == o["target_ref"]:
            o["relationship_type"] = "related-to"
        if self.rand() < 0.2:
            o["description"] = self.descr()
        if self.rand() < 0.15:
            st = c - self.randint(1, 200) * DAY_MS
            o["start_time"] = fmt_ms(st)
            o["stop_time"] = fmt_ms(min(NOW_MS - 1, st + self.randint(1, 100) * DAY_MS))
        return self.finish(o)

    def sighting(self):
        c = self.past_ms(max_ago=YEAR_MS)
        o = self.common("sighting", c)
        fs = c - self.randint(0, 10 * DAY_MS)
        o["first_seen"] = fmt_ms(fs)
        o["last_seen"] = fmt_ms(min(c, fs + self.randint(0, 5 * DAY_MS)))
        o["count"] = self.randint(1, 250)
        o["sighting_of_ref"] = self.pick("indicator" if self.rand() < 0.85 else "malware")
        if self.pool["observed-data"] and self.rand() < 0.6:
            o["observed_data_refs"] = [self.pick("observed-data")]
        o["where_sighted_refs"] = self.sample("identity", 1, 2)
        if self.rand() < 0.1:
            o["summary"] = True
        return self.finish(o)

    # ------------------------------------------------------------ versions
    def new_version(self):
        """A later version of a recently emitted SDO, or None when none can be made."""
        if not self.versionable:
            return None
        i = self.randint(0, len(self.versionable) - 1)
        prev = self.versionable[i]
        prev_ms = parse_ms(prev["modified"])
        ms = prev_ms + self.randint(60_000, 60 * DAY_MS)
        if ms >= NOW_MS:
            del self.versionable[i]
            return None
        o = dict(prev)
        o["modified"] = fmt_ms(ms)
        o["description"] = "%s (updated: %s)" % (self.descr(), self.choice((
            "new infrastructure", "confidence raised after corroboration",
            "aliases reconciled", "scope extended", "false-positive review")))
        o["confidence"] = self.choice((50, 70, 85, 95))
        if self.rand() < 0.3:
            o["labels"] = ["reviewed"]
        if self.rand() < 0.2:
            o["object_marking_refs"] = [self.choice(TLP_WEIGHTED)]
        if o["type"] == "indicator" and self.rand() < 0.3 and ms > parse_ms(o["valid_from"]):
            o["valid_until"] = fmt_ms(ms)  # expired by its producer
        if self.rand() < 0.002:
            o["revoked"] = True
        if o.get("revoked") or self.rand() < 0.5:
            del self.versionable[i]      # revoked objects get no later version
        else:
            self.versionable[i] = o
        return o


def base36(n):
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    s = ""
    while True:
        n, d = divmod(n, 36)
        s = digits[d] + s
        if not n:
            return s


def parse_ms(ts):
    """STIX timestamp made by fmt_ms -> epoch milliseconds."""
    return calendar.timegm((int(ts[0:4]), int(ts[5:7]), int(ts[8:10]), int(ts[11:13]),
                            int(ts[14:16]), int(ts[17:19]), 0, 0, 0)) * 1000 + int(ts[20:23])


def tlp_markings():
    return [{"type": "marking-definition", "spec_version": "2.1", "id": mid,
             "created": "2022-10-01T00:00:00.000Z", "name": name,
             "extensions": {TLP2_EXT: {"extension_type": "property-extension", "tlp_2_0": lvl}}}
            for lvl, mid, name in TLP2]


# kind -> weight in the steady-state mix (per mille)
MIX = [
    ("indicator", 280), ("ipv4", 79), ("domain", 60), ("url", 45), ("file", 60), ("email", 25),
    ("relationship", 180), ("sighting", 55), ("malware", 35), ("threat_actor", 12),
    ("intrusion_set", 12), ("campaign", 15), ("attack_pattern", 20), ("identity", 15),
    ("report", 20), ("grouping", 12), ("note", 15), ("observed_data", 30), ("version", 30),
]

WARMUP = (["identity"] * 20 + ["attack_pattern"] * 10 + ["malware"] * 10 + ["threat_actor"] * 5
          + ["intrusion_set"] * 5 + ["campaign"] * 5 + ["ipv4", "domain", "url", "file", "email"] * 4
          + ["indicator"] * 10 + ["observed_data"] * 3)


def generate(count, seed):
    """Yields `count` STIX objects (dicts), deterministic for a given seed."""
    g = Gen(seed)
    fns = {
        "indicator": g.indicator, "ipv4": g.ipv4, "domain": g.domain, "url": g.url,
        "file": g.file, "email": g.email, "relationship": g.relationship,
        "sighting": g.sighting, "malware": g.malware, "threat_actor": g.threat_actor,
        "intrusion_set": g.intrusion_set, "campaign": g.campaign,
        "attack_pattern": g.attack_pattern, "identity": g.identity, "report": g.report,
        "grouping": g.grouping, "note": g.note, "observed_data": g.observed_data,
        "version": g.new_version,
    }
    n = 0
    for o in tlp_markings():
        if n >= count:
            return
        n += 1
        yield o
    for kind in WARMUP:
        if n >= count:
            return
        n += 1
        yield fns[kind]()
    # a table of 1000 slots so that one random integer picks the kind
    table = []
    for kind, w in MIX:
        table.extend([fns[kind]] * w)
    assert len(table) == 1000, len(table)
    rand = g.rand
    while n < count:
        o = table[int(rand() * 1000)]()
        if o is None:
            o = g.indicator()
        n += 1
        yield o


def main(argv=None):
    ap = argparse.ArgumentParser(description="Seeded generator of valid STIX 2.1 objects.")
    ap.add_argument("--count", type=int, default=1_000_000, help="number of objects (default 1000000)")
    ap.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    ap.add_argument("--format", choices=("jsonl", "bundle"), default="jsonl",
                    help="one object per line (default) or one STIX bundle")
    ap.add_argument("--out", default="-", help="output path (default: stdout)")
    args = ap.parse_args(argv)
    if args.count < 0:
        ap.error("--count must be >= 0")

    enc = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    out = sys.stdout if args.out == "-" else open(args.out, "w", encoding="utf-8", newline="\n")
    t0 = time.perf_counter()
    buf = []
    flush_every = 20000
    try:
        if args.format == "bundle":
            bid = "bundle--%s" % uuid.UUID(int=random.Random(args.seed ^ 0xB0B).getrandbits(128), version=4)
            if args.count == 0:  # STIX forbids empty lists: a bundle without objects
                out.write('{"type":"bundle","id":"%s"}\n' % bid)
            else:
                out.write('{"type":"bundle","id":"%s","objects":[\n' % bid)
            sep = ""
            for o in generate(args.count, args.seed):
                buf.append(sep + enc(o))
                sep = ",\n"
                if len(buf) >= flush_every:
                    out.write("".join(buf))
                    buf.clear()
            if args.count:
                buf.append("\n]}\n")
        else:
            for o in generate(args.count, args.seed):
                buf.append(enc(o))
                buf.append("\n")
                if len(buf) >= flush_every:
                    out.write("".join(buf))
                    buf.clear()
        out.write("".join(buf))
        out.flush()
    finally:
        if out is not sys.stdout:
            out.close()
    dt = time.perf_counter() - t0
    sys.stderr.write("gen_corpus: %d objects, seed %d, format %s in %.1f s (%.0f objects/s)\n"
                     % (args.count, args.seed, args.format, dt, args.count / dt if dt > 0 else 0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
