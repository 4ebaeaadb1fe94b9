// Package taxonomy names the 27 product types (prdtypecode) of the Rakuten
// France catalogue in French and English, for API answers, reports and the
// model file.
//
// Rakuten never published names for the codes. These are ours, written after
// reading the community mappings, which disagree in places, and the titles
// of the training products of each code; the comments note what decided the
// unclear ones.
package taxonomy

// Category is one product type.
type Category struct {
	Code string `json:"code"`
	FR   string `json:"fr"`
	EN   string `json:"en"`
}

// categories is read only; sorted by numeric code.
var categories = [...]Category{
	// Mostly foreign-language and second-hand titles, not new French books.
	{"10", "Livres anciens et étrangers", "Used and foreign books"},
	// Boxed games, many imported or for old consoles.
	{"40", "Jeux vidéo (import et rétro)", "Video games (import and retro)"},
	{"50", "Accessoires de jeux vidéo", "Video game accessories"},
	{"60", "Consoles de jeux", "Game consoles"},
	// Figurines, but also licensed mugs, lamps and other merchandise.
	{"1140", "Figurines et produits dérivés", "Figurines and merchandise"},
	// Magic, Pokémon, Yu-Gi-Oh! single cards.
	{"1160", "Cartes à collectionner", "Trading cards"},
	{"1180", "Jeux de rôle et de figurines", "Role-playing and miniature games"},
	{"1280", "Jouets pour enfants", "Children's toys"},
	{"1281", "Jeux de société", "Board games"},
	// Radio-controlled cars, drones and their spare parts, scale models.
	{"1300", "Modélisme et radiocommande", "Model making and radio control"},
	// A mixed class: baby socks and shoes next to billiards and table football.
	{"1301", "Chaussettes bébé, billard et baby-foot", "Baby socks, billiards and table football"},
	{"1302", "Jeux et jouets de plein air", "Outdoor games and toys"},
	{"1320", "Puériculture", "Baby care"},
	{"1560", "Mobilier et literie", "Furniture and bedding"},
	{"1920", "Linge de maison et coussins", "Household linen and cushions"},
	{"1940", "Épicerie", "Food and groceries"},
	{"2060", "Décoration et éclairage", "Home decoration and lighting"},
	{"2220", "Animalerie", "Pet supplies"},
	// Single issues of magazines and old newspapers.
	{"2280", "Magazines et journaux", "Magazines and newspapers"},
	// Lots of books, comics and magazines, and second-hand books.
	{"2403", "Lots de livres, BD et revues", "Book, comic and magazine lots"},
	{"2462", "Lots de consoles et jeux vidéo", "Console and video game bundles"},
	{"2522", "Papeterie et fournitures de bureau", "Stationery and office supplies"},
	{"2582", "Mobilier et équipement de jardin", "Garden furniture and equipment"},
	{"2583", "Piscine et spa", "Pool and spa"},
	{"2585", "Jardinage et bricolage", "Gardening and DIY"},
	{"2705", "Livres neufs", "New books"},
	// Download codes and add-ons for PC games.
	{"2905", "Jeux PC en téléchargement", "PC games (download)"},
}

// Lookup returns the category of a prdtypecode such as "2583".
func Lookup(code string) (Category, bool) {
	for _, c := range categories {
		if c.Code == code {
			return c, true
		}
	}
	return Category{}, false
}

// All returns the categories sorted by numeric code, as a new slice.
func All() []Category {
	out := make([]Category, len(categories))
	copy(out, categories[:])
	return out
}

// Codes returns the 27 codes sorted numerically, for example as the known
// labels when validating a data set.
func Codes() []string {
	out := make([]string, len(categories))
	for i, c := range categories {
		out[i] = c.Code
	}
	return out
}

// Name returns the English name of code, or the code itself when unknown,
// so callers always have something to show.
func Name(code string) string {
	if c, ok := Lookup(code); ok {
		return c.EN
	}
	return code
}
