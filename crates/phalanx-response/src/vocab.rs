//! The closed vocabularies of rapid response: sectors, entity classes,
//! RSIT, the NIS Cooperation Group taxonomy, channels, services, modes,
//! skills and team roles. Each value has one lowercase, hyphenated text
//! form used in STIX, JSON and on the command line.

/// An unknown vocabulary value: names the vocabulary and lists the allowed values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{value}' is not a known {vocabulary}; expected one of: {}", allowed.join(", "))]
pub struct UnknownValue {
    /// The vocabulary's name.
    pub vocabulary: &'static str,
    /// The value given.
    pub value: String,
    /// The allowed values.
    pub allowed: Vec<&'static str>,
}

macro_rules! vocabulary {
    (
        $(#[$meta:meta])*
        $name:ident, $what:literal {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl $name {
            /// Every value, in order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The text form.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// The text forms of every value, in order.
            pub fn texts() -> Vec<&'static str> {
                Self::ALL.iter().map(|v| v.as_str()).collect()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::vocab::UnknownValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let wanted = s.trim().to_ascii_lowercase().replace('_', "-");
                Self::ALL.iter().copied().find(|v| v.as_str() == wanted).ok_or_else(|| $crate::vocab::UnknownValue {
                    vocabulary: $what,
                    value: s.to_owned(),
                    allowed: Self::texts(),
                })
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use vocabulary;

vocabulary! {
    /// A sector: the NIS2 Annex I (high criticality) and Annex II (other
    /// critical) sectors and subsectors, plus the sectors outside NIS2 that
    /// the federation needs (defence, CSDP missions, elections, diplomatic).
    Sector, "sector" {
        /// Annex I 1(a): electricity.
        EnergyElectricity = "energy-electricity",
        /// Annex I 1(b): district heating and cooling.
        EnergyDistrictHeating = "energy-district-heating",
        /// Annex I 1(c): oil.
        EnergyOil = "energy-oil",
        /// Annex I 1(d): gas.
        EnergyGas = "energy-gas",
        /// Annex I 1(e): hydrogen.
        EnergyHydrogen = "energy-hydrogen",
        /// Annex I 2(a): air transport.
        TransportAir = "transport-air",
        /// Annex I 2(b): rail transport.
        TransportRail = "transport-rail",
        /// Annex I 2(c): water transport.
        TransportWater = "transport-water",
        /// Annex I 2(d): road transport.
        TransportRoad = "transport-road",
        /// Annex I 3: banking.
        Banking = "banking",
        /// Annex I 4: financial market infrastructures.
        FinancialMarketInfrastructure = "financial-market-infrastructure",
        /// Annex I 5: health.
        Health = "health",
        /// Annex I 6: drinking water.
        DrinkingWater = "drinking-water",
        /// Annex I 7: waste water.
        WasteWater = "waste-water",
        /// Annex I 8: digital infrastructure.
        DigitalInfrastructure = "digital-infrastructure",
        /// Annex I 9: ICT service management (business-to-business).
        IctServiceManagement = "ict-service-management",
        /// Annex I 10: public administration.
        PublicAdministration = "public-administration",
        /// Annex I 11: space.
        Space = "space",
        /// Annex II 1: postal and courier services.
        PostalCourier = "postal-courier",
        /// Annex II 2: waste management.
        WasteManagement = "waste-management",
        /// Annex II 3: chemicals.
        Chemicals = "chemicals",
        /// Annex II 4: food.
        Food = "food",
        /// Annex II 5(a): medical devices.
        ManufacturingMedicalDevices = "manufacturing-medical-devices",
        /// Annex II 5(b): computer, electronic and optical products.
        ManufacturingComputersElectronics = "manufacturing-computers-electronics",
        /// Annex II 5(c): electrical equipment.
        ManufacturingElectricalEquipment = "manufacturing-electrical-equipment",
        /// Annex II 5(d): machinery.
        ManufacturingMachinery = "manufacturing-machinery",
        /// Annex II 5(e): motor vehicles.
        ManufacturingMotorVehicles = "manufacturing-motor-vehicles",
        /// Annex II 5(f): other transport equipment.
        ManufacturingOtherTransport = "manufacturing-other-transport",
        /// Annex II 6: digital providers (marketplaces, search engines, social networks).
        DigitalProviders = "digital-providers",
        /// Annex II 7: research.
        Research = "research",
        /// Outside NIS2: defence and the military.
        Defence = "defence",
        /// Outside NIS2: a CSDP mission or operation.
        Csdp = "csdp",
        /// Outside NIS2: elections and democratic processes.
        Elections = "elections",
        /// Outside NIS2: diplomatic services.
        Diplomatic = "diplomatic",
    }
}

impl Sector {
    /// The NIS2 annex and point of the sector (`I.5`, `II.5(a)`), or
    /// `None` for the sectors outside NIS2.
    pub fn nis2_code(self) -> Option<&'static str> {
        use Sector::*;
        Some(match self {
            EnergyElectricity => "I.1(a)",
            EnergyDistrictHeating => "I.1(b)",
            EnergyOil => "I.1(c)",
            EnergyGas => "I.1(d)",
            EnergyHydrogen => "I.1(e)",
            TransportAir => "I.2(a)",
            TransportRail => "I.2(b)",
            TransportWater => "I.2(c)",
            TransportRoad => "I.2(d)",
            Banking => "I.3",
            FinancialMarketInfrastructure => "I.4",
            Health => "I.5",
            DrinkingWater => "I.6",
            WasteWater => "I.7",
            DigitalInfrastructure => "I.8",
            IctServiceManagement => "I.9",
            PublicAdministration => "I.10",
            Space => "I.11",
            PostalCourier => "II.1",
            WasteManagement => "II.2",
            Chemicals => "II.3",
            Food => "II.4",
            ManufacturingMedicalDevices => "II.5(a)",
            ManufacturingComputersElectronics => "II.5(b)",
            ManufacturingElectricalEquipment => "II.5(c)",
            ManufacturingMachinery => "II.5(d)",
            ManufacturingMotorVehicles => "II.5(e)",
            ManufacturingOtherTransport => "II.5(f)",
            DigitalProviders => "II.6",
            Research => "II.7",
            Defence | Csdp | Elections | Diplomatic => return None,
        })
    }
}

vocabulary! {
    /// The NIS2 class of the affected entity.
    EntityClass, "entity class" {
        /// Essential entity (NIS2 Art 3(1)).
        Essential = "essential",
        /// Important entity (NIS2 Art 3(2)).
        Important = "important",
        /// Neither (outside NIS2, or below its size thresholds).
        None = "none",
    }
}

vocabulary! {
    /// The class of the ENISA/TF-CSIRT Reference Security Incident Taxonomy.
    RsitClass, "rsit class" {
        /// Abusive content.
        AbusiveContent = "abusive-content",
        /// Malicious code.
        MaliciousCode = "malicious-code",
        /// Information gathering.
        InformationGathering = "information-gathering",
        /// Intrusion attempts.
        IntrusionAttempts = "intrusion-attempts",
        /// Intrusions.
        Intrusions = "intrusions",
        /// Availability.
        Availability = "availability",
        /// Information content security.
        InformationContentSecurity = "information-content-security",
        /// Fraud.
        Fraud = "fraud",
        /// Vulnerable.
        Vulnerable = "vulnerable",
        /// Other.
        Other = "other",
        /// Test.
        Test = "test",
    }
}

impl RsitClass {
    /// The incident types of this class (RSIT v2 as published in the MISP
    /// `rsit` taxonomy, with the later `data-leak` and `undetermined`).
    pub fn types(self) -> &'static [&'static str] {
        match self {
            RsitClass::AbusiveContent => &["spam", "harmful-speech", "violence"],
            RsitClass::MaliciousCode => {
                &["infected-system", "c2-server", "malware-distribution", "malware-configuration"]
            }
            RsitClass::InformationGathering => &["scanner", "sniffing", "social-engineering"],
            RsitClass::IntrusionAttempts => &["ids-alert", "brute-force", "exploit"],
            RsitClass::Intrusions => &[
                "privileged-account-compromise",
                "unprivileged-account-compromise",
                "application-compromise",
                "system-compromise",
                "burglary",
            ],
            RsitClass::Availability => &["dos", "ddos", "misconfiguration", "sabotage", "outage"],
            RsitClass::InformationContentSecurity => {
                &["unauthorised-information-access", "unauthorised-information-modification", "data-loss", "data-leak"]
            }
            RsitClass::Fraud => &["unauthorised-use-of-resources", "copyright", "masquerade", "phishing"],
            RsitClass::Vulnerable => &[
                "weak-crypto",
                "ddos-amplifier",
                "potentially-unwanted-accessible",
                "information-disclosure",
                "vulnerable-system",
            ],
            RsitClass::Other => &["other", "undetermined"],
            RsitClass::Test => &["test"],
        }
    }
}

vocabulary! {
    /// NIS Cooperation Group taxonomy: the nature of the root cause.
    RootCause, "nis root cause" {
        /// System failures.
        SystemFailures = "system-failures",
        /// Natural phenomena.
        NaturalPhenomena = "natural-phenomena",
        /// Human errors.
        HumanErrors = "human-errors",
        /// Malicious actions.
        MaliciousActions = "malicious-actions",
        /// Third-party failures.
        ThirdPartyFailures = "third-party-failures",
    }
}

vocabulary! {
    /// NIS Cooperation Group taxonomy: severity of the threat.
    ThreatSeverity, "nis threat severity" {
        /// High.
        High = "high",
        /// Medium.
        Medium = "medium",
        /// Low.
        Low = "low",
    }
}

vocabulary! {
    /// NIS Cooperation Group taxonomy: severity of the impact.
    ImpactSeverity, "nis impact severity" {
        /// Very large impact.
        Red = "red",
        /// Large impact.
        Yellow = "yellow",
        /// Minor impact.
        Green = "green",
        /// No impact.
        White = "white",
    }
}

vocabulary! {
    /// NIS Cooperation Group taxonomy: outlook over the next six hours.
    Outlook, "nis outlook" {
        /// Improving.
        Improving = "improving",
        /// Stable.
        Stable = "stable",
        /// Worsening.
        Worsening = "worsening",
    }
}

vocabulary! {
    /// The mechanism an assistance request goes through.
    Channel, "assistance channel" {
        /// PESCO Cyber Rapid Response Teams.
        Crrt = "crrt",
        /// EU Cybersecurity Reserve (Cyber Solidarity Act).
        EuCybersecurityReserve = "eu-cybersecurity-reserve",
        /// Mutual assistance within the CSIRTs Network.
        CsirtsNetworkMutualAssistance = "csirts-network-mutual-assistance",
        /// Bilateral assistance between two states.
        Bilateral = "bilateral",
    }
}

impl Channel {
    /// The default target time for the response to a request, in hours:
    /// 72 for the CRRT (its published target), 48 for the EU
    /// Cybersecurity Reserve (reported, to verify against the final Cyber
    /// Solidarity Act), 72 otherwise. Configurable per request.
    pub fn default_response_hours(self) -> u32 {
        match self {
            Channel::EuCybersecurityReserve => 48,
            Channel::Crrt | Channel::CsirtsNetworkMutualAssistance | Channel::Bilateral => 72,
        }
    }
}

vocabulary! {
    /// A service asked of a response team.
    Service, "assistance service" {
        /// Incident response and handling.
        IncidentResponse = "incident-response",
        /// Digital forensics.
        DigitalForensics = "digital-forensics",
        /// Malware analysis.
        MalwareAnalysis = "malware-analysis",
        /// Vulnerability assessment.
        VulnerabilityAssessment = "vulnerability-assessment",
        /// Threat hunting.
        ThreatHunting = "threat-hunting",
        /// Cyber threat intelligence.
        ThreatIntelligence = "threat-intelligence",
        /// ICS/OT support.
        IcsOtSupport = "ics-ot-support",
        /// Election monitoring (preventive).
        ElectionMonitoring = "election-monitoring",
        /// OSINT and FIMI (disinformation) analysis.
        FimiAnalysis = "fimi-analysis",
        /// Advice and coordination.
        Advisory = "advisory",
    }
}

vocabulary! {
    /// Where the team works.
    Mode, "assistance mode" {
        /// On site, in the beneficiary's premises.
        OnSite = "on-site",
        /// Remotely.
        Remote = "remote",
        /// Both.
        Hybrid = "hybrid",
    }
}

vocabulary! {
    /// A skill of an expert on the roster.
    Skill, "expert skill" {
        /// Incident handling.
        IncidentHandling = "incident-handling",
        /// Digital forensics.
        Forensics = "forensics",
        /// Malware analysis.
        MalwareAnalysis = "malware-analysis",
        /// Vulnerability assessment.
        VulnerabilityAssessment = "vulnerability-assessment",
        /// Industrial control systems and operational technology.
        IcsOt = "ics-ot",
        /// OSINT and FIMI (disinformation) analysis.
        OsintFimi = "osint-fimi",
        /// Leading a team.
        TeamLead = "team-lead",
    }
}

vocabulary! {
    /// A member's role in a deployed team.
    TeamRole, "team role" {
        /// Team leader.
        TeamLead = "team-lead",
        /// Incident handler.
        IncidentHandler = "incident-handler",
        /// Forensic analyst.
        ForensicAnalyst = "forensic-analyst",
        /// Malware analyst.
        MalwareAnalyst = "malware-analyst",
        /// Vulnerability assessor.
        VulnerabilityAssessor = "vulnerability-assessor",
        /// ICS/OT specialist.
        IcsOtSpecialist = "ics-ot-specialist",
        /// OSINT/FIMI analyst.
        OsintFimiAnalyst = "osint-fimi-analyst",
        /// Liaison with the beneficiary and the contributing nations.
        Liaison = "liaison",
    }
}

impl TeamRole {
    /// The skill a member needs for this role (`None`: any expert).
    pub fn required_skill(self) -> Option<Skill> {
        match self {
            TeamRole::TeamLead => Some(Skill::TeamLead),
            TeamRole::IncidentHandler => Some(Skill::IncidentHandling),
            TeamRole::ForensicAnalyst => Some(Skill::Forensics),
            TeamRole::MalwareAnalyst => Some(Skill::MalwareAnalysis),
            TeamRole::VulnerabilityAssessor => Some(Skill::VulnerabilityAssessment),
            TeamRole::IcsOtSpecialist => Some(Skill::IcsOt),
            TeamRole::OsintFimiAnalyst => Some(Skill::OsintFimi),
            TeamRole::Liaison => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_through_text_and_serde() {
        for s in Sector::ALL {
            assert_eq!(s.as_str().parse::<Sector>(), Ok(*s));
            let json = serde_json::to_value(s).expect("serialise");
            assert_eq!(serde_json::from_value::<Sector>(json).expect("deserialise"), *s);
        }
        assert_eq!("ON_SITE".parse::<Mode>(), Ok(Mode::OnSite));
    }

    #[test]
    fn unknown_value_names_the_vocabulary_and_the_allowed_values() {
        let e = "ransomware".parse::<Channel>().unwrap_err();
        let text = e.to_string();
        assert!(text.starts_with("'ransomware' is not a known assistance channel"), "{text}");
        assert!(text.contains("crrt") && text.contains("bilateral"), "{text}");
    }

    #[test]
    fn sectors_carry_their_nis2_annex() {
        assert_eq!(Sector::Health.nis2_code(), Some("I.5"));
        assert_eq!(Sector::Research.nis2_code(), Some("II.7"));
        assert_eq!(Sector::Elections.nis2_code(), None);
        let annex_one = Sector::ALL.iter().filter(|s| s.nis2_code().is_some_and(|c| c.starts_with("I."))).count();
        assert_eq!(annex_one, 18, "Annex I: 11 sectors, energy and transport split into subsectors");
    }

    #[test]
    fn crrt_targets_a_response_within_72_hours() {
        assert_eq!(Channel::Crrt.default_response_hours(), 72);
        assert_eq!(Channel::EuCybersecurityReserve.default_response_hours(), 48);
    }
}
