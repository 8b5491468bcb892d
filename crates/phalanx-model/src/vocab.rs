//! STIX 2.1 vocabularies and enumerations (§10), one constant each, named
//! after the specification's vocabulary name (`account-type-ov` becomes
//! [`ACCOUNT_TYPE_OV`]).
//!
//! `*_OV` constants are open vocabularies: a value outside the list is
//! allowed and only reported as a warning. `*_ENUM` constants are closed:
//! a value outside the list makes the object invalid.

/// `account-type-ov` (§10.1).
pub const ACCOUNT_TYPE_OV: &[&str] = &[
    "facebook",
    "ldap",
    "nis",
    "openid",
    "radius",
    "skype",
    "tacacs",
    "twitter",
    "unix",
    "windows-local",
    "windows-domain",
];

/// `attack-motivation-ov` (§10.2).
pub const ATTACK_MOTIVATION_OV: &[&str] = &[
    "accidental",
    "coercion",
    "dominance",
    "ideology",
    "notoriety",
    "organizational-gain",
    "personal-gain",
    "personal-satisfaction",
    "revenge",
    "unpredictable",
];

/// `attack-resource-level-ov` (§10.3).
pub const ATTACK_RESOURCE_LEVEL_OV: &[&str] = &["individual", "club", "contest", "team", "organization", "government"];

/// `encryption-algorithm-enum` (§10.4), closed.
pub const ENCRYPTION_ALGORITHM_ENUM: &[&str] = &["AES-256-GCM", "ChaCha20-Poly1305", "mime-type-indicated"];

/// `extension-type-enum` (§10.5), closed.
pub const EXTENSION_TYPE_ENUM: &[&str] =
    &["new-sdo", "new-sco", "new-sro", "property-extension", "toplevel-property-extension"];

/// `grouping-context-ov` (§10.6).
pub const GROUPING_CONTEXT_OV: &[&str] = &["suspicious-activity", "malware-analysis", "unspecified"];

/// `hash-algorithm-ov` (§10.7).
pub const HASH_ALGORITHM_OV: &[&str] =
    &["MD5", "SHA-1", "SHA-256", "SHA-512", "SHA3-256", "SHA3-512", "SSDEEP", "TLSH"];

/// `identity-class-ov` (§10.8).
pub const IDENTITY_CLASS_OV: &[&str] = &["individual", "group", "system", "organization", "class", "unknown"];

/// `implementation-language-ov` (§10.9).
pub const IMPLEMENTATION_LANGUAGE_OV: &[&str] = &[
    "applescript",
    "bash",
    "c",
    "c++",
    "c#",
    "go",
    "java",
    "javascript",
    "lua",
    "objective-c",
    "perl",
    "php",
    "powershell",
    "python",
    "ruby",
    "scala",
    "swift",
    "typescript",
    "visual-basic",
    "x86-32",
    "x86-64",
];

/// `indicator-type-ov` (§10.10).
pub const INDICATOR_TYPE_OV: &[&str] =
    &["anomalous-activity", "anonymization", "benign", "compromised", "malicious-activity", "attribution", "unknown"];

/// `industry-sector-ov` (§10.11).
pub const INDUSTRY_SECTOR_OV: &[&str] = &[
    "agriculture",
    "aerospace",
    "automotive",
    "chemical",
    "commercial",
    "communications",
    "construction",
    "defense",
    "education",
    "energy",
    "entertainment",
    "financial-services",
    "government",
    "emergency-services",
    "government-national",
    "government-regional",
    "government-local",
    "government-public-services",
    "healthcare",
    "hospitality-leisure",
    "infrastructure",
    "dams",
    "nuclear",
    "water",
    "insurance",
    "manufacturing",
    "mining",
    "non-profit",
    "pharmaceuticals",
    "retail",
    "technology",
    "telecommunications",
    "transportation",
    "utilities",
];

/// `infrastructure-type-ov` (§10.12).
pub const INFRASTRUCTURE_TYPE_OV: &[&str] = &[
    "amplification",
    "anonymization",
    "botnet",
    "command-and-control",
    "control-system",
    "exfiltration",
    "firewall",
    "hosting-malware",
    "hosting-target-lists",
    "phishing",
    "reconnaissance",
    "routers-switches",
    "staging",
    "workstation",
    "unknown",
];

/// `malware-capabilities-ov` (§10.13).
pub const MALWARE_CAPABILITIES_OV: &[&str] = &[
    "accesses-remote-machines",
    "anti-debugging",
    "anti-disassembly",
    "anti-emulation",
    "anti-memory-forensics",
    "anti-sandbox",
    "anti-vm",
    "captures-input-peripherals",
    "captures-output-peripherals",
    "captures-system-state-data",
    "cleans-traces-of-infection",
    "commits-fraud",
    "communicates-with-c2",
    "compromises-data-availability",
    "compromises-data-integrity",
    "compromises-system-availability",
    "controls-local-machine",
    "degrades-security-software",
    "degrades-system-updates",
    "determines-c2-server",
    "emails-spam",
    "escalates-privileges",
    "evades-av",
    "exfiltrates-data",
    "fingerprints-host",
    "hides-artifacts",
    "hides-executing-code",
    "infects-files",
    "infects-remote-machines",
    "installs-other-components",
    "persists-after-system-reboot",
    "prevents-artifact-access",
    "prevents-artifact-deletion",
    "probes-network-environment",
    "self-modifies",
    "steals-authentication-credentials",
    "violates-system-operational-integrity",
];

/// `malware-result-ov` (§10.14).
pub const MALWARE_RESULT_OV: &[&str] = &["malicious", "suspicious", "benign", "unknown"];

/// `malware-type-ov` (§10.15).
pub const MALWARE_TYPE_OV: &[&str] = &[
    "adware",
    "backdoor",
    "bot",
    "bootkit",
    "ddos",
    "downloader",
    "dropper",
    "exploit-kit",
    "keylogger",
    "ransomware",
    "remote-access-trojan",
    "resource-exploitation",
    "rogue-security-software",
    "rootkit",
    "screen-capture",
    "spyware",
    "trojan",
    "unknown",
    "virus",
    "webshell",
    "wiper",
    "worm",
];

/// `network-socket-address-family-enum` (§10.16), closed.
pub const NETWORK_SOCKET_ADDRESS_FAMILY_ENUM: &[&str] =
    &["AF_UNSPEC", "AF_INET", "AF_IPX", "AF_APPLETALK", "AF_NETBIOS", "AF_INET6", "AF_IRDA", "AF_BTH"];

/// `network-socket-type-enum` (§10.17), closed.
pub const NETWORK_SOCKET_TYPE_ENUM: &[&str] = &["SOCK_STREAM", "SOCK_DGRAM", "SOCK_RAW", "SOCK_RDM", "SOCK_SEQPACKET"];

/// `opinion-enum` (§10.18), closed.
pub const OPINION_ENUM: &[&str] = &["strongly-disagree", "disagree", "neutral", "agree", "strongly-agree"];

/// `pattern-type-ov` (§10.19).
pub const PATTERN_TYPE_OV: &[&str] = &["stix", "pcre", "sigma", "snort", "suricata", "yara"];

/// `processor-architecture-ov` (§10.20).
pub const PROCESSOR_ARCHITECTURE_OV: &[&str] = &["alpha", "arm", "ia-64", "mips", "powerpc", "sparc", "x86", "x86-64"];

/// `region-ov` (§10.21).
pub const REGION_OV: &[&str] = &[
    "africa",
    "eastern-africa",
    "middle-africa",
    "northern-africa",
    "southern-africa",
    "western-africa",
    "americas",
    "latin-america-caribbean",
    "south-america",
    "caribbean",
    "central-america",
    "northern-america",
    "asia",
    "central-asia",
    "eastern-asia",
    "southern-asia",
    "south-eastern-asia",
    "western-asia",
    "europe",
    "eastern-europe",
    "northern-europe",
    "southern-europe",
    "western-europe",
    "oceania",
    "antarctica",
    "australia-new-zealand",
    "melanesia",
    "micronesia",
    "polynesia",
];

/// `report-type-ov` (§10.22).
pub const REPORT_TYPE_OV: &[&str] = &[
    "attack-pattern",
    "campaign",
    "identity",
    "indicator",
    "intrusion-set",
    "malware",
    "observed-data",
    "threat-actor",
    "threat-report",
    "tool",
    "vulnerability",
];

/// `threat-actor-type-ov` (§10.23).
pub const THREAT_ACTOR_TYPE_OV: &[&str] = &[
    "activist",
    "competitor",
    "crime-syndicate",
    "criminal",
    "hacker",
    "insider-accidental",
    "insider-disgruntled",
    "nation-state",
    "sensationalist",
    "spy",
    "terrorist",
    "unknown",
];

/// `threat-actor-role-ov` (§10.24).
pub const THREAT_ACTOR_ROLE_OV: &[&str] = &[
    "agent",
    "director",
    "independent",
    "infrastructure-architect",
    "infrastructure-operator",
    "malware-author",
    "sponsor",
];

/// `threat-actor-sophistication-ov` (§10.25).
pub const THREAT_ACTOR_SOPHISTICATION_OV: &[&str] =
    &["none", "minimal", "intermediate", "advanced", "expert", "innovator", "strategic"];

/// `tool-type-ov` (§10.26).
pub const TOOL_TYPE_OV: &[&str] = &[
    "denial-of-service",
    "exploitation",
    "information-gathering",
    "network-capture",
    "credential-exploitation",
    "remote-access",
    "vulnerability-scanning",
    "unknown",
];

/// `windows-integrity-level-enum` (§10.27), closed.
pub const WINDOWS_INTEGRITY_LEVEL_ENUM: &[&str] = &["low", "medium", "high", "system"];

/// `windows-pebinary-type-ov` (§10.28).
pub const WINDOWS_PEBINARY_TYPE_OV: &[&str] = &["dll", "exe", "sys"];

/// `windows-registry-datatype-enum` (§10.29), closed.
pub const WINDOWS_REGISTRY_DATATYPE_ENUM: &[&str] = &[
    "REG_NONE",
    "REG_SZ",
    "REG_EXPAND_SZ",
    "REG_BINARY",
    "REG_DWORD",
    "REG_DWORD_BIG_ENDIAN",
    "REG_DWORD_LITTLE_ENDIAN",
    "REG_LINK",
    "REG_MULTI_SZ",
    "REG_RESOURCE_LIST",
    "REG_FULL_RESOURCE_DESCRIPTION",
    "REG_RESOURCE_REQUIREMENTS_LIST",
    "REG_QWORD",
    "REG_INVALID_TYPE",
];

/// `windows-service-start-type-enum` (§10.30), closed.
pub const WINDOWS_SERVICE_START_TYPE_ENUM: &[&str] =
    &["SERVICE_AUTO_START", "SERVICE_BOOT_START", "SERVICE_DEMAND_START", "SERVICE_DISABLED", "SERVICE_SYSTEM_ALERT"];

/// `windows-service-type-enum` (§10.31), closed.
pub const WINDOWS_SERVICE_TYPE_ENUM: &[&str] = &[
    "SERVICE_KERNEL_DRIVER",
    "SERVICE_FILE_SYSTEM_DRIVER",
    "SERVICE_WIN32_OWN_PROCESS",
    "SERVICE_WIN32_SHARE_PROCESS",
];

/// `windows-service-status-enum` (§10.32), closed.
pub const WINDOWS_SERVICE_STATUS_ENUM: &[&str] = &[
    "SERVICE_CONTINUE_PENDING",
    "SERVICE_PAUSE_PENDING",
    "SERVICE_PAUSED",
    "SERVICE_RUNNING",
    "SERVICE_START_PENDING",
    "SERVICE_STOP_PENDING",
    "SERVICE_STOPPED",
];

/// Marking `definition_type` values the specification defines (§7.2.1,
/// deprecated property; the specification gives no vocabulary name).
pub const MARKING_DEFINITION_TYPE_OV: &[&str] = &["statement", "tlp"];

/// The four TLP 1.0 marking definitions (§7.2.1.4): level, id, name.
/// No other `tlp` marking-definition may exist.
pub const TLP_1_0_MARKINGS: &[(&str, &str, &str)] = &[
    ("white", "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9", "TLP:WHITE"),
    ("green", "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da", "TLP:GREEN"),
    ("amber", "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82", "TLP:AMBER"),
    ("red", "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed", "TLP:RED"),
];

/// The `created` timestamp of every TLP 1.0 marking definition.
pub const TLP_1_0_CREATED: &str = "2017-01-20T00:00:00.000Z";

/// The TLP 2.0 property extension's extension-definition id.
pub const TLP_2_0_EXTENSION_ID: &str = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d";

/// TLP 2.0 levels (`tlp_2_0` values of the TLP 2.0 extension).
pub const TLP_2_0_LEVELS: &[&str] = &["clear", "green", "amber", "amber+strict", "red"];
