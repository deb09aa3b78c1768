//! ISO 3166-1 countries: alpha-2, alpha-3 and numeric codes and English short names, as
//! embargo lists and jurisdiction credentials name them (credentials and hop proofs carry
//! the numeric code). The table is ISO 3166-1 as published in the iso-codes database
//! (249 countries); [`Country::find`] accepts any of the three codes.

/// A country of ISO 3166-1.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Country {
    /// Two-letter code, e.g. `FR`.
    pub alpha2: &'static str,
    /// Three-letter code, e.g. `FRA`.
    pub alpha3: &'static str,
    /// Numeric code, e.g. 250.
    pub numeric: u16,
    /// English short name, e.g. `France`.
    pub name: &'static str,
}

impl Country {
    /// The country with this alpha-2, alpha-3 or numeric code (letters in any case; the
    /// numeric code with or without leading zeros).
    pub fn find(code: &str) -> Option<&'static Country> {
        let code = code.trim();
        if let Ok(n) = code.parse::<u16>() {
            return Country::numeric(n);
        }
        COUNTRIES
            .iter()
            .find(|c| c.alpha2.eq_ignore_ascii_case(code) || c.alpha3.eq_ignore_ascii_case(code))
    }

    /// The country with this numeric code.
    pub fn numeric(code: u16) -> Option<&'static Country> {
        COUNTRIES.binary_search_by_key(&code, |c| c.numeric).ok().map(|i| &COUNTRIES[i])
    }
}

impl std::fmt::Display for Country {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}, {:03})", self.name, self.alpha2, self.numeric)
    }
}

/// Every country, by numeric code.
pub const COUNTRIES: &[Country] = &[
    Country { alpha2: "AF", alpha3: "AFG", numeric: 4, name: "Afghanistan" },
    Country { alpha2: "AL", alpha3: "ALB", numeric: 8, name: "Albania" },
    Country { alpha2: "AQ", alpha3: "ATA", numeric: 10, name: "Antarctica" },
    Country { alpha2: "DZ", alpha3: "DZA", numeric: 12, name: "Algeria" },
    Country { alpha2: "AS", alpha3: "ASM", numeric: 16, name: "American Samoa" },
    Country { alpha2: "AD", alpha3: "AND", numeric: 20, name: "Andorra" },
    Country { alpha2: "AO", alpha3: "AGO", numeric: 24, name: "Angola" },
    Country { alpha2: "AG", alpha3: "ATG", numeric: 28, name: "Antigua and Barbuda" },
    Country { alpha2: "AZ", alpha3: "AZE", numeric: 31, name: "Azerbaijan" },
    Country { alpha2: "AR", alpha3: "ARG", numeric: 32, name: "Argentina" },
    Country { alpha2: "AU", alpha3: "AUS", numeric: 36, name: "Australia" },
    Country { alpha2: "AT", alpha3: "AUT", numeric: 40, name: "Austria" },
    Country { alpha2: "BS", alpha3: "BHS", numeric: 44, name: "Bahamas" },
    Country { alpha2: "BH", alpha3: "BHR", numeric: 48, name: "Bahrain" },
    Country { alpha2: "BD", alpha3: "BGD", numeric: 50, name: "Bangladesh" },
    Country { alpha2: "AM", alpha3: "ARM", numeric: 51, name: "Armenia" },
    Country { alpha2: "BB", alpha3: "BRB", numeric: 52, name: "Barbados" },
    Country { alpha2: "BE", alpha3: "BEL", numeric: 56, name: "Belgium" },
    Country { alpha2: "BM", alpha3: "BMU", numeric: 60, name: "Bermuda" },
    Country { alpha2: "BT", alpha3: "BTN", numeric: 64, name: "Bhutan" },
    Country { alpha2: "BO", alpha3: "BOL", numeric: 68, name: "Bolivia, Plurinational State of" },
    Country { alpha2: "BA", alpha3: "BIH", numeric: 70, name: "Bosnia and Herzegovina" },
    Country { alpha2: "BW", alpha3: "BWA", numeric: 72, name: "Botswana" },
    Country { alpha2: "BV", alpha3: "BVT", numeric: 74, name: "Bouvet Island" },
    Country { alpha2: "BR", alpha3: "BRA", numeric: 76, name: "Brazil" },
    Country { alpha2: "BZ", alpha3: "BLZ", numeric: 84, name: "Belize" },
    Country { alpha2: "IO", alpha3: "IOT", numeric: 86, name: "British Indian Ocean Territory" },
    Country { alpha2: "SB", alpha3: "SLB", numeric: 90, name: "Solomon Islands" },
    Country { alpha2: "VG", alpha3: "VGB", numeric: 92, name: "Virgin Islands, British" },
    Country { alpha2: "BN", alpha3: "BRN", numeric: 96, name: "Brunei Darussalam" },
    Country { alpha2: "BG", alpha3: "BGR", numeric: 100, name: "Bulgaria" },
    Country { alpha2: "MM", alpha3: "MMR", numeric: 104, name: "Myanmar" },
    Country { alpha2: "BI", alpha3: "BDI", numeric: 108, name: "Burundi" },
    Country { alpha2: "BY", alpha3: "BLR", numeric: 112, name: "Belarus" },
    Country { alpha2: "KH", alpha3: "KHM", numeric: 116, name: "Cambodia" },
    Country { alpha2: "CM", alpha3: "CMR", numeric: 120, name: "Cameroon" },
    Country { alpha2: "CA", alpha3: "CAN", numeric: 124, name: "Canada" },
    Country { alpha2: "CV", alpha3: "CPV", numeric: 132, name: "Cabo Verde" },
    Country { alpha2: "KY", alpha3: "CYM", numeric: 136, name: "Cayman Islands" },
    Country { alpha2: "CF", alpha3: "CAF", numeric: 140, name: "Central African Republic" },
    Country { alpha2: "LK", alpha3: "LKA", numeric: 144, name: "Sri Lanka" },
    Country { alpha2: "TD", alpha3: "TCD", numeric: 148, name: "Chad" },
    Country { alpha2: "CL", alpha3: "CHL", numeric: 152, name: "Chile" },
    Country { alpha2: "CN", alpha3: "CHN", numeric: 156, name: "China" },
    Country { alpha2: "TW", alpha3: "TWN", numeric: 158, name: "Taiwan, Province of China" },
    Country { alpha2: "CX", alpha3: "CXR", numeric: 162, name: "Christmas Island" },
    Country { alpha2: "CC", alpha3: "CCK", numeric: 166, name: "Cocos (Keeling) Islands" },
    Country { alpha2: "CO", alpha3: "COL", numeric: 170, name: "Colombia" },
    Country { alpha2: "KM", alpha3: "COM", numeric: 174, name: "Comoros" },
    Country { alpha2: "YT", alpha3: "MYT", numeric: 175, name: "Mayotte" },
    Country { alpha2: "CG", alpha3: "COG", numeric: 178, name: "Congo" },
    Country {
        alpha2: "CD",
        alpha3: "COD",
        numeric: 180,
        name: "Congo, The Democratic Republic of the",
    },
    Country { alpha2: "CK", alpha3: "COK", numeric: 184, name: "Cook Islands" },
    Country { alpha2: "CR", alpha3: "CRI", numeric: 188, name: "Costa Rica" },
    Country { alpha2: "HR", alpha3: "HRV", numeric: 191, name: "Croatia" },
    Country { alpha2: "CU", alpha3: "CUB", numeric: 192, name: "Cuba" },
    Country { alpha2: "CY", alpha3: "CYP", numeric: 196, name: "Cyprus" },
    Country { alpha2: "CZ", alpha3: "CZE", numeric: 203, name: "Czechia" },
    Country { alpha2: "BJ", alpha3: "BEN", numeric: 204, name: "Benin" },
    Country { alpha2: "DK", alpha3: "DNK", numeric: 208, name: "Denmark" },
    Country { alpha2: "DM", alpha3: "DMA", numeric: 212, name: "Dominica" },
    Country { alpha2: "DO", alpha3: "DOM", numeric: 214, name: "Dominican Republic" },
    Country { alpha2: "EC", alpha3: "ECU", numeric: 218, name: "Ecuador" },
    Country { alpha2: "SV", alpha3: "SLV", numeric: 222, name: "El Salvador" },
    Country { alpha2: "GQ", alpha3: "GNQ", numeric: 226, name: "Equatorial Guinea" },
    Country { alpha2: "ET", alpha3: "ETH", numeric: 231, name: "Ethiopia" },
    Country { alpha2: "ER", alpha3: "ERI", numeric: 232, name: "Eritrea" },
    Country { alpha2: "EE", alpha3: "EST", numeric: 233, name: "Estonia" },
    Country { alpha2: "FO", alpha3: "FRO", numeric: 234, name: "Faroe Islands" },
    Country { alpha2: "FK", alpha3: "FLK", numeric: 238, name: "Falkland Islands (Malvinas)" },
    Country {
        alpha2: "GS",
        alpha3: "SGS",
        numeric: 239,
        name: "South Georgia and the South Sandwich Islands",
    },
    Country { alpha2: "FJ", alpha3: "FJI", numeric: 242, name: "Fiji" },
    Country { alpha2: "FI", alpha3: "FIN", numeric: 246, name: "Finland" },
    Country { alpha2: "AX", alpha3: "ALA", numeric: 248, name: "Åland Islands" },
    Country { alpha2: "FR", alpha3: "FRA", numeric: 250, name: "France" },
    Country { alpha2: "GF", alpha3: "GUF", numeric: 254, name: "French Guiana" },
    Country { alpha2: "PF", alpha3: "PYF", numeric: 258, name: "French Polynesia" },
    Country { alpha2: "TF", alpha3: "ATF", numeric: 260, name: "French Southern Territories" },
    Country { alpha2: "DJ", alpha3: "DJI", numeric: 262, name: "Djibouti" },
    Country { alpha2: "GA", alpha3: "GAB", numeric: 266, name: "Gabon" },
    Country { alpha2: "GE", alpha3: "GEO", numeric: 268, name: "Georgia" },
    Country { alpha2: "GM", alpha3: "GMB", numeric: 270, name: "Gambia" },
    Country { alpha2: "PS", alpha3: "PSE", numeric: 275, name: "Palestine, State of" },
    Country { alpha2: "DE", alpha3: "DEU", numeric: 276, name: "Germany" },
    Country { alpha2: "GH", alpha3: "GHA", numeric: 288, name: "Ghana" },
    Country { alpha2: "GI", alpha3: "GIB", numeric: 292, name: "Gibraltar" },
    Country { alpha2: "KI", alpha3: "KIR", numeric: 296, name: "Kiribati" },
    Country { alpha2: "GR", alpha3: "GRC", numeric: 300, name: "Greece" },
    Country { alpha2: "GL", alpha3: "GRL", numeric: 304, name: "Greenland" },
    Country { alpha2: "GD", alpha3: "GRD", numeric: 308, name: "Grenada" },
    Country { alpha2: "GP", alpha3: "GLP", numeric: 312, name: "Guadeloupe" },
    Country { alpha2: "GU", alpha3: "GUM", numeric: 316, name: "Guam" },
    Country { alpha2: "GT", alpha3: "GTM", numeric: 320, name: "Guatemala" },
    Country { alpha2: "GN", alpha3: "GIN", numeric: 324, name: "Guinea" },
    Country { alpha2: "GY", alpha3: "GUY", numeric: 328, name: "Guyana" },
    Country { alpha2: "HT", alpha3: "HTI", numeric: 332, name: "Haiti" },
    Country {
        alpha2: "HM",
        alpha3: "HMD",
        numeric: 334,
        name: "Heard Island and McDonald Islands",
    },
    Country { alpha2: "VA", alpha3: "VAT", numeric: 336, name: "Holy See (Vatican City State)" },
    Country { alpha2: "HN", alpha3: "HND", numeric: 340, name: "Honduras" },
    Country { alpha2: "HK", alpha3: "HKG", numeric: 344, name: "Hong Kong" },
    Country { alpha2: "HU", alpha3: "HUN", numeric: 348, name: "Hungary" },
    Country { alpha2: "IS", alpha3: "ISL", numeric: 352, name: "Iceland" },
    Country { alpha2: "IN", alpha3: "IND", numeric: 356, name: "India" },
    Country { alpha2: "ID", alpha3: "IDN", numeric: 360, name: "Indonesia" },
    Country { alpha2: "IR", alpha3: "IRN", numeric: 364, name: "Iran, Islamic Republic of" },
    Country { alpha2: "IQ", alpha3: "IRQ", numeric: 368, name: "Iraq" },
    Country { alpha2: "IE", alpha3: "IRL", numeric: 372, name: "Ireland" },
    Country { alpha2: "IL", alpha3: "ISR", numeric: 376, name: "Israel" },
    Country { alpha2: "IT", alpha3: "ITA", numeric: 380, name: "Italy" },
    Country { alpha2: "CI", alpha3: "CIV", numeric: 384, name: "Côte d'Ivoire" },
    Country { alpha2: "JM", alpha3: "JAM", numeric: 388, name: "Jamaica" },
    Country { alpha2: "JP", alpha3: "JPN", numeric: 392, name: "Japan" },
    Country { alpha2: "KZ", alpha3: "KAZ", numeric: 398, name: "Kazakhstan" },
    Country { alpha2: "JO", alpha3: "JOR", numeric: 400, name: "Jordan" },
    Country { alpha2: "KE", alpha3: "KEN", numeric: 404, name: "Kenya" },
    Country {
        alpha2: "KP",
        alpha3: "PRK",
        numeric: 408,
        name: "Korea, Democratic People's Republic of",
    },
    Country { alpha2: "KR", alpha3: "KOR", numeric: 410, name: "Korea, Republic of" },
    Country { alpha2: "KW", alpha3: "KWT", numeric: 414, name: "Kuwait" },
    Country { alpha2: "KG", alpha3: "KGZ", numeric: 417, name: "Kyrgyzstan" },
    Country { alpha2: "LA", alpha3: "LAO", numeric: 418, name: "Lao People's Democratic Republic" },
    Country { alpha2: "LB", alpha3: "LBN", numeric: 422, name: "Lebanon" },
    Country { alpha2: "LS", alpha3: "LSO", numeric: 426, name: "Lesotho" },
    Country { alpha2: "LV", alpha3: "LVA", numeric: 428, name: "Latvia" },
    Country { alpha2: "LR", alpha3: "LBR", numeric: 430, name: "Liberia" },
    Country { alpha2: "LY", alpha3: "LBY", numeric: 434, name: "Libya" },
    Country { alpha2: "LI", alpha3: "LIE", numeric: 438, name: "Liechtenstein" },
    Country { alpha2: "LT", alpha3: "LTU", numeric: 440, name: "Lithuania" },
    Country { alpha2: "LU", alpha3: "LUX", numeric: 442, name: "Luxembourg" },
    Country { alpha2: "MO", alpha3: "MAC", numeric: 446, name: "Macao" },
    Country { alpha2: "MG", alpha3: "MDG", numeric: 450, name: "Madagascar" },
    Country { alpha2: "MW", alpha3: "MWI", numeric: 454, name: "Malawi" },
    Country { alpha2: "MY", alpha3: "MYS", numeric: 458, name: "Malaysia" },
    Country { alpha2: "MV", alpha3: "MDV", numeric: 462, name: "Maldives" },
    Country { alpha2: "ML", alpha3: "MLI", numeric: 466, name: "Mali" },
    Country { alpha2: "MT", alpha3: "MLT", numeric: 470, name: "Malta" },
    Country { alpha2: "MQ", alpha3: "MTQ", numeric: 474, name: "Martinique" },
    Country { alpha2: "MR", alpha3: "MRT", numeric: 478, name: "Mauritania" },
    Country { alpha2: "MU", alpha3: "MUS", numeric: 480, name: "Mauritius" },
    Country { alpha2: "MX", alpha3: "MEX", numeric: 484, name: "Mexico" },
    Country { alpha2: "MC", alpha3: "MCO", numeric: 492, name: "Monaco" },
    Country { alpha2: "MN", alpha3: "MNG", numeric: 496, name: "Mongolia" },
    Country { alpha2: "MD", alpha3: "MDA", numeric: 498, name: "Moldova, Republic of" },
    Country { alpha2: "ME", alpha3: "MNE", numeric: 499, name: "Montenegro" },
    Country { alpha2: "MS", alpha3: "MSR", numeric: 500, name: "Montserrat" },
    Country { alpha2: "MA", alpha3: "MAR", numeric: 504, name: "Morocco" },
    Country { alpha2: "MZ", alpha3: "MOZ", numeric: 508, name: "Mozambique" },
    Country { alpha2: "OM", alpha3: "OMN", numeric: 512, name: "Oman" },
    Country { alpha2: "NA", alpha3: "NAM", numeric: 516, name: "Namibia" },
    Country { alpha2: "NR", alpha3: "NRU", numeric: 520, name: "Nauru" },
    Country { alpha2: "NP", alpha3: "NPL", numeric: 524, name: "Nepal" },
    Country { alpha2: "NL", alpha3: "NLD", numeric: 528, name: "Netherlands" },
    Country { alpha2: "CW", alpha3: "CUW", numeric: 531, name: "Curaçao" },
    Country { alpha2: "AW", alpha3: "ABW", numeric: 533, name: "Aruba" },
    Country { alpha2: "SX", alpha3: "SXM", numeric: 534, name: "Sint Maarten (Dutch part)" },
    Country { alpha2: "BQ", alpha3: "BES", numeric: 535, name: "Bonaire, Sint Eustatius and Saba" },
    Country { alpha2: "NC", alpha3: "NCL", numeric: 540, name: "New Caledonia" },
    Country { alpha2: "VU", alpha3: "VUT", numeric: 548, name: "Vanuatu" },
    Country { alpha2: "NZ", alpha3: "NZL", numeric: 554, name: "New Zealand" },
    Country { alpha2: "NI", alpha3: "NIC", numeric: 558, name: "Nicaragua" },
    Country { alpha2: "NE", alpha3: "NER", numeric: 562, name: "Niger" },
    Country { alpha2: "NG", alpha3: "NGA", numeric: 566, name: "Nigeria" },
    Country { alpha2: "NU", alpha3: "NIU", numeric: 570, name: "Niue" },
    Country { alpha2: "NF", alpha3: "NFK", numeric: 574, name: "Norfolk Island" },
    Country { alpha2: "NO", alpha3: "NOR", numeric: 578, name: "Norway" },
    Country { alpha2: "MP", alpha3: "MNP", numeric: 580, name: "Northern Mariana Islands" },
    Country {
        alpha2: "UM",
        alpha3: "UMI",
        numeric: 581,
        name: "United States Minor Outlying Islands",
    },
    Country { alpha2: "FM", alpha3: "FSM", numeric: 583, name: "Micronesia, Federated States of" },
    Country { alpha2: "MH", alpha3: "MHL", numeric: 584, name: "Marshall Islands" },
    Country { alpha2: "PW", alpha3: "PLW", numeric: 585, name: "Palau" },
    Country { alpha2: "PK", alpha3: "PAK", numeric: 586, name: "Pakistan" },
    Country { alpha2: "PA", alpha3: "PAN", numeric: 591, name: "Panama" },
    Country { alpha2: "PG", alpha3: "PNG", numeric: 598, name: "Papua New Guinea" },
    Country { alpha2: "PY", alpha3: "PRY", numeric: 600, name: "Paraguay" },
    Country { alpha2: "PE", alpha3: "PER", numeric: 604, name: "Peru" },
    Country { alpha2: "PH", alpha3: "PHL", numeric: 608, name: "Philippines" },
    Country { alpha2: "PN", alpha3: "PCN", numeric: 612, name: "Pitcairn" },
    Country { alpha2: "PL", alpha3: "POL", numeric: 616, name: "Poland" },
    Country { alpha2: "PT", alpha3: "PRT", numeric: 620, name: "Portugal" },
    Country { alpha2: "GW", alpha3: "GNB", numeric: 624, name: "Guinea-Bissau" },
    Country { alpha2: "TL", alpha3: "TLS", numeric: 626, name: "Timor-Leste" },
    Country { alpha2: "PR", alpha3: "PRI", numeric: 630, name: "Puerto Rico" },
    Country { alpha2: "QA", alpha3: "QAT", numeric: 634, name: "Qatar" },
    Country { alpha2: "RE", alpha3: "REU", numeric: 638, name: "Réunion" },
    Country { alpha2: "RO", alpha3: "ROU", numeric: 642, name: "Romania" },
    Country { alpha2: "RU", alpha3: "RUS", numeric: 643, name: "Russian Federation" },
    Country { alpha2: "RW", alpha3: "RWA", numeric: 646, name: "Rwanda" },
    Country { alpha2: "BL", alpha3: "BLM", numeric: 652, name: "Saint Barthélemy" },
    Country {
        alpha2: "SH",
        alpha3: "SHN",
        numeric: 654,
        name: "Saint Helena, Ascension and Tristan da Cunha",
    },
    Country { alpha2: "KN", alpha3: "KNA", numeric: 659, name: "Saint Kitts and Nevis" },
    Country { alpha2: "AI", alpha3: "AIA", numeric: 660, name: "Anguilla" },
    Country { alpha2: "LC", alpha3: "LCA", numeric: 662, name: "Saint Lucia" },
    Country { alpha2: "MF", alpha3: "MAF", numeric: 663, name: "Saint Martin (French part)" },
    Country { alpha2: "PM", alpha3: "SPM", numeric: 666, name: "Saint Pierre and Miquelon" },
    Country { alpha2: "VC", alpha3: "VCT", numeric: 670, name: "Saint Vincent and the Grenadines" },
    Country { alpha2: "SM", alpha3: "SMR", numeric: 674, name: "San Marino" },
    Country { alpha2: "ST", alpha3: "STP", numeric: 678, name: "Sao Tome and Principe" },
    Country { alpha2: "SA", alpha3: "SAU", numeric: 682, name: "Saudi Arabia" },
    Country { alpha2: "SN", alpha3: "SEN", numeric: 686, name: "Senegal" },
    Country { alpha2: "RS", alpha3: "SRB", numeric: 688, name: "Serbia" },
    Country { alpha2: "SC", alpha3: "SYC", numeric: 690, name: "Seychelles" },
    Country { alpha2: "SL", alpha3: "SLE", numeric: 694, name: "Sierra Leone" },
    Country { alpha2: "SG", alpha3: "SGP", numeric: 702, name: "Singapore" },
    Country { alpha2: "SK", alpha3: "SVK", numeric: 703, name: "Slovakia" },
    Country { alpha2: "VN", alpha3: "VNM", numeric: 704, name: "Viet Nam" },
    Country { alpha2: "SI", alpha3: "SVN", numeric: 705, name: "Slovenia" },
    Country { alpha2: "SO", alpha3: "SOM", numeric: 706, name: "Somalia" },
    Country { alpha2: "ZA", alpha3: "ZAF", numeric: 710, name: "South Africa" },
    Country { alpha2: "ZW", alpha3: "ZWE", numeric: 716, name: "Zimbabwe" },
    Country { alpha2: "ES", alpha3: "ESP", numeric: 724, name: "Spain" },
    Country { alpha2: "SS", alpha3: "SSD", numeric: 728, name: "South Sudan" },
    Country { alpha2: "SD", alpha3: "SDN", numeric: 729, name: "Sudan" },
    Country { alpha2: "EH", alpha3: "ESH", numeric: 732, name: "Western Sahara" },
    Country { alpha2: "SR", alpha3: "SUR", numeric: 740, name: "Suriname" },
    Country { alpha2: "SJ", alpha3: "SJM", numeric: 744, name: "Svalbard and Jan Mayen" },
    Country { alpha2: "SZ", alpha3: "SWZ", numeric: 748, name: "Eswatini" },
    Country { alpha2: "SE", alpha3: "SWE", numeric: 752, name: "Sweden" },
    Country { alpha2: "CH", alpha3: "CHE", numeric: 756, name: "Switzerland" },
    Country { alpha2: "SY", alpha3: "SYR", numeric: 760, name: "Syrian Arab Republic" },
    Country { alpha2: "TJ", alpha3: "TJK", numeric: 762, name: "Tajikistan" },
    Country { alpha2: "TH", alpha3: "THA", numeric: 764, name: "Thailand" },
    Country { alpha2: "TG", alpha3: "TGO", numeric: 768, name: "Togo" },
    Country { alpha2: "TK", alpha3: "TKL", numeric: 772, name: "Tokelau" },
    Country { alpha2: "TO", alpha3: "TON", numeric: 776, name: "Tonga" },
    Country { alpha2: "TT", alpha3: "TTO", numeric: 780, name: "Trinidad and Tobago" },
    Country { alpha2: "AE", alpha3: "ARE", numeric: 784, name: "United Arab Emirates" },
    Country { alpha2: "TN", alpha3: "TUN", numeric: 788, name: "Tunisia" },
    Country { alpha2: "TR", alpha3: "TUR", numeric: 792, name: "Türkiye" },
    Country { alpha2: "TM", alpha3: "TKM", numeric: 795, name: "Turkmenistan" },
    Country { alpha2: "TC", alpha3: "TCA", numeric: 796, name: "Turks and Caicos Islands" },
    Country { alpha2: "TV", alpha3: "TUV", numeric: 798, name: "Tuvalu" },
    Country { alpha2: "UG", alpha3: "UGA", numeric: 800, name: "Uganda" },
    Country { alpha2: "UA", alpha3: "UKR", numeric: 804, name: "Ukraine" },
    Country { alpha2: "MK", alpha3: "MKD", numeric: 807, name: "North Macedonia" },
    Country { alpha2: "EG", alpha3: "EGY", numeric: 818, name: "Egypt" },
    Country { alpha2: "GB", alpha3: "GBR", numeric: 826, name: "United Kingdom" },
    Country { alpha2: "GG", alpha3: "GGY", numeric: 831, name: "Guernsey" },
    Country { alpha2: "JE", alpha3: "JEY", numeric: 832, name: "Jersey" },
    Country { alpha2: "IM", alpha3: "IMN", numeric: 833, name: "Isle of Man" },
    Country { alpha2: "TZ", alpha3: "TZA", numeric: 834, name: "Tanzania, United Republic of" },
    Country { alpha2: "US", alpha3: "USA", numeric: 840, name: "United States" },
    Country { alpha2: "VI", alpha3: "VIR", numeric: 850, name: "Virgin Islands, U.S." },
    Country { alpha2: "BF", alpha3: "BFA", numeric: 854, name: "Burkina Faso" },
    Country { alpha2: "UY", alpha3: "URY", numeric: 858, name: "Uruguay" },
    Country { alpha2: "UZ", alpha3: "UZB", numeric: 860, name: "Uzbekistan" },
    Country {
        alpha2: "VE",
        alpha3: "VEN",
        numeric: 862,
        name: "Venezuela, Bolivarian Republic of",
    },
    Country { alpha2: "WF", alpha3: "WLF", numeric: 876, name: "Wallis and Futuna" },
    Country { alpha2: "WS", alpha3: "WSM", numeric: 882, name: "Samoa" },
    Country { alpha2: "YE", alpha3: "YEM", numeric: 887, name: "Yemen" },
    Country { alpha2: "ZM", alpha3: "ZMB", numeric: 894, name: "Zambia" },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_finds_its_country() {
        assert_eq!(COUNTRIES.len(), 249);
        assert!(COUNTRIES.windows(2).all(|w| w[0].numeric < w[1].numeric));
        for c in COUNTRIES {
            assert_eq!(Country::find(c.alpha2), Some(c));
            assert_eq!(Country::find(&c.alpha3.to_lowercase()), Some(c));
            assert_eq!(Country::find(&format!("{:03}", c.numeric)), Some(c));
        }
        let kp = Country::find("KP").unwrap();
        assert_eq!((kp.numeric, kp.alpha3), (408, "PRK"));
        assert_eq!(Country::find("XX"), None);
        assert_eq!(Country::find("999"), None);
        assert_eq!(Country::find(""), None);
        assert_eq!(Country::numeric(250).unwrap().to_string(), "France (FR, 250)");
    }
}
