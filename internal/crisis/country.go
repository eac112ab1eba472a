package crisis

import (
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// CountryFor returns the ISO 3166 alpha-2 country of a person: from their
// phone number in E.164 form ("+14155550100" gives "US", "+16135550100"
// "CA"), else from their IANA time zone ("Europe/Madrid" gives "ES"), else
// "". A number outside the known ranges of its calling code counts for
// the code's main country ("+1" for the US, "+44" for the UK). The embedded time zone database carries no zone-to-country table,
// so the zones known here are listed in zoneCountry.
func CountryFor(phone, zone string) string {
	if phone = strings.TrimSpace(phone); phone != "" {
		if num, err := phonenumbers.Parse(phone, ""); err == nil {
			if region := phonenumbers.GetRegionCodeForNumber(num); isAlpha2(region) && region != "ZZ" {
				return region
			}
			// A number outside every known range of its country (a new or
			// reserved block) still belongs to its calling code's main country.
			if region := phonenumbers.GetRegionCodeForCountryCode(int(num.GetCountryCode())); isAlpha2(region) && region != "ZZ" {
				return region
			}
		}
	}
	return zoneCountry[strings.TrimSpace(zone)]
}

// zoneCountry maps the time zones of the countries with their own lines,
// and of Latin America, to their country.
var zoneCountry = map[string]string{
	// United States
	"America/New_York": "US", "America/Chicago": "US", "America/Denver": "US", "America/Los_Angeles": "US",
	"America/Phoenix": "US", "America/Anchorage": "US", "America/Adak": "US", "America/Boise": "US",
	"America/Detroit": "US", "America/Juneau": "US", "America/Sitka": "US", "America/Nome": "US",
	"America/Yakutat": "US", "America/Metlakatla": "US", "America/Menominee": "US",
	"America/Indiana/Indianapolis": "US", "America/Indiana/Knox": "US", "America/Indiana/Marengo": "US",
	"America/Indiana/Petersburg": "US", "America/Indiana/Tell_City": "US", "America/Indiana/Vevay": "US",
	"America/Indiana/Vincennes": "US", "America/Indiana/Winamac": "US", "America/Indianapolis": "US",
	"America/Kentucky/Louisville": "US", "America/Kentucky/Monticello": "US", "America/Louisville": "US",
	"America/North_Dakota/Beulah": "US", "America/North_Dakota/Center": "US",
	"America/North_Dakota/New_Salem": "US", "Pacific/Honolulu": "US", "US/Eastern": "US",
	"US/Central": "US", "US/Mountain": "US", "US/Pacific": "US", "US/Alaska": "US", "US/Hawaii": "US",
	"US/Arizona": "US", "EST5EDT": "US", "CST6CDT": "US", "MST7MDT": "US", "PST8PDT": "US",
	// Canada
	"America/Toronto": "CA", "America/Vancouver": "CA", "America/Edmonton": "CA", "America/Winnipeg": "CA",
	"America/Halifax": "CA", "America/St_Johns": "CA", "America/Regina": "CA", "America/Moncton": "CA",
	"America/Whitehorse": "CA", "America/Yellowknife": "CA", "America/Iqaluit": "CA",
	"America/Glace_Bay": "CA", "America/Goose_Bay": "CA", "America/Swift_Current": "CA",
	"America/Dawson_Creek": "CA", "America/Fort_Nelson": "CA", "America/Creston": "CA",
	"America/Dawson": "CA", "America/Inuvik": "CA", "America/Rankin_Inlet": "CA", "America/Resolute": "CA",
	"America/Cambridge_Bay": "CA", "America/Atikokan": "CA", "America/Blanc-Sablon": "CA",
	"America/Montreal": "CA", "America/Nipigon": "CA", "America/Thunder_Bay": "CA",
	"America/Rainy_River": "CA", "America/Pangnirtung": "CA", "Canada/Eastern": "CA",
	"Canada/Central": "CA", "Canada/Mountain": "CA", "Canada/Pacific": "CA", "Canada/Atlantic": "CA",
	"Canada/Newfoundland": "CA", "Canada/Saskatchewan": "CA", "Canada/Yukon": "CA",
	// Mexico
	"America/Mexico_City": "MX", "America/Cancun": "MX", "America/Merida": "MX", "America/Monterrey": "MX",
	"America/Matamoros": "MX", "America/Chihuahua": "MX", "America/Ciudad_Juarez": "MX",
	"America/Ojinaga": "MX", "America/Mazatlan": "MX", "America/Bahia_Banderas": "MX",
	"America/Hermosillo": "MX", "America/Tijuana": "MX", "Mexico/General": "MX", "Mexico/BajaNorte": "MX",
	"Mexico/BajaSur": "MX",
	// Spain
	"Europe/Madrid": "ES", "Africa/Ceuta": "ES", "Atlantic/Canary": "ES",
	// United Kingdom
	"Europe/London": "GB", "Europe/Belfast": "GB", "GB": "GB", "GB-Eire": "GB",
	// Latin America and the Caribbean
	"America/Bogota": "CO", "America/Lima": "PE", "America/Santiago": "CL", "America/Punta_Arenas": "CL",
	"Pacific/Easter": "CL", "America/Argentina/Buenos_Aires": "AR", "America/Buenos_Aires": "AR",
	"America/Argentina/Cordoba": "AR", "America/Argentina/Mendoza": "AR", "America/Argentina/Salta": "AR",
	"America/Argentina/Jujuy": "AR", "America/Argentina/Tucuman": "AR", "America/Argentina/Catamarca": "AR",
	"America/Argentina/La_Rioja": "AR", "America/Argentina/San_Juan": "AR", "America/Argentina/San_Luis": "AR",
	"America/Argentina/Rio_Gallegos": "AR", "America/Argentina/Ushuaia": "AR", "America/Caracas": "VE",
	"America/Guatemala": "GT", "America/El_Salvador": "SV", "America/Tegucigalpa": "HN",
	"America/Managua": "NI", "America/Costa_Rica": "CR", "America/Panama": "PA", "America/Havana": "CU",
	"America/Santo_Domingo": "DO", "America/Puerto_Rico": "PR", "America/Montevideo": "UY",
	"America/Asuncion": "PY", "America/La_Paz": "BO", "America/Guayaquil": "EC", "Pacific/Galapagos": "EC",
	"America/Sao_Paulo": "BR", "America/Belize": "BZ",
}
