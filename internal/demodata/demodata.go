// Package demodata generates the small, synthetic catalogue the demo trains
// on, in the challenge's raw X/Y format. Every listing is composed from word
// lists written for this project, so the demo needs no third-party data.
package demodata

import (
	"encoding/csv"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
)

// category is one prdtypecode with words that typically describe it.
type category struct {
	code  string
	nouns []string
	words []string
}

func categories() []category {
	return []category{
		{"10", []string{"livre ancien", "roman", "édition originale", "recueil"}, []string{"reliure", "cuir", "1890", "auteur", "tome", "anglais"}},
		{"40", []string{"jeu vidéo", "cartouche", "jeu import"}, []string{"japonais", "rétro", "ntsc", "super famicom", "pal", "boîte"}},
		{"50", []string{"manette", "chargeur", "câble", "housse"}, []string{"sans fil", "compatible", "usb", "joystick", "protection"}},
		{"60", []string{"console", "console portable", "console de salon"}, []string{"500 go", "pack", "édition limitée", "noire", "blanche"}},
		{"1140", []string{"figurine", "statuette", "funko pop"}, []string{"collection", "manga", "vinyle", "personnage", "résine"}},
		{"1160", []string{"carte", "booster", "deck", "carte à collectionner"}, []string{"rare", "holographique", "pokémon", "magic", "yu-gi-oh"}},
		{"1180", []string{"figurine à peindre", "livre de règles", "dés"}, []string{"warhammer", "donjons", "dragons", "escouade", "jeu de rôle"}},
		{"1280", []string{"peluche", "poupée", "jouet", "voiture miniature"}, []string{"enfant", "doux", "3 ans", "éveil", "musical"}},
		{"1281", []string{"jeu de société", "jeu de cartes", "puzzle"}, []string{"famille", "joueurs", "stratégie", "plateau", "1000 pièces"}},
		{"1300", []string{"drone", "voiture radiocommandée", "hélicoptère", "maquette"}, []string{"télécommande", "batterie", "moteur", "échelle 1/10", "caméra"}},
		{"1301", []string{"chaussettes bébé", "table de billard", "baby-foot"}, []string{"coton", "naissance", "queue", "boules", "flechettes"}},
		{"1302", []string{"trampoline", "balançoire", "toboggan", "piscine gonflable"}, []string{"extérieur", "jardin", "enfants", "filet", "sécurité"}},
		{"1320", []string{"poussette", "biberon", "siège auto", "lit parapluie"}, []string{"bébé", "naissance", "isofix", "pliable", "sans bpa"}},
		{"1560", []string{"canapé", "matelas", "armoire", "table basse", "lit"}, []string{"chambre", "salon", "bois massif", "140x190", "mousse"}},
		{"1920", []string{"housse de coussin", "parure de lit", "rideau", "plaid"}, []string{"coton", "45x45", "lin", "motif", "polaire"}},
		{"1940", []string{"café", "thé", "chocolat", "épices", "biscuits"}, []string{"bio", "grains", "sachet", "saveur", "gourmand"}},
		{"2060", []string{"lampe", "guirlande lumineuse", "miroir", "vase", "sticker mural"}, []string{"décoration", "led", "salon", "design", "moderne"}},
		{"2220", []string{"collier", "griffoir", "gamelle", "panier"}, []string{"chien", "chat", "animal", "laisse", "croquettes"}},
		{"2280", []string{"magazine", "journal", "revue", "numéro"}, []string{"hebdomadaire", "mensuel", "1985", "édition", "presse"}},
		{"2403", []string{"lot de livres", "lot de bd", "lot de revues"}, []string{"collection", "tomes", "série complète", "occasion", "volumes"}},
		{"2462", []string{"lot de jeux", "pack console", "lot de manettes"}, []string{"occasion", "complet", "bundle", "plusieurs jeux", "console"}},
		{"2522", []string{"cahier", "stylo", "classeur", "agenda", "carnet"}, []string{"a4", "bureau", "école", "papier", "encre"}},
		{"2582", []string{"salon de jardin", "parasol", "transat", "tonnelle"}, []string{"terrasse", "aluminium", "résine tressée", "extérieur", "chaises"}},
		{"2583", []string{"piscine", "pompe", "filtre à sable", "spa gonflable", "bâche"}, []string{"chlore", "hors sol", "robot", "eau", "skimmer"}},
		{"2585", []string{"tondeuse", "perceuse", "tuyau d'arrosage", "taille-haie", "outil"}, []string{"sans fil", "bricolage", "jardinage", "18v", "lame"}},
		{"2705", []string{"livre", "roman", "essai", "biographie", "guide"}, []string{"broché", "poche", "auteur", "éditions", "pages"}},
		{"2905", []string{"jeu pc", "code de téléchargement", "clé steam"}, []string{"windows", "télécharger", "digital", "licence", "pc"}},
	}
}

// Write generates rowsPerClass listings for each of the 27 prdtypecodes and
// writes them to x and y in the challenge's raw format. The same seed gives
// the same files.
func Write(x, y io.Writer, rowsPerClass int, seed uint64) error {
	if rowsPerClass < 2 {
		return fmt.Errorf("demodata: rowsPerClass %d: want at least 2", rowsPerClass)
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	brands := []string{"Acme", "Lumio", "Maison Vert", "Kidoo", "Zento", "Polaris", "Ardoise", "Brio"}
	cats := categories()
	type row struct{ code, title, desc string }
	rows := make([]row, 0, rowsPerClass*len(cats))
	for _, c := range cats {
		for range rowsPerClass {
			noun := c.nouns[rng.IntN(len(c.nouns))]
			w1, w2 := c.words[rng.IntN(len(c.words))], c.words[rng.IntN(len(c.words))]
			title := fmt.Sprintf("%s %s %s - %s", capitalize(noun), w1, w2, brands[rng.IntN(len(brands))])
			desc := ""
			if rng.IntN(4) > 0 { // a quarter of real listings have no description
				desc = fmt.Sprintf("<p><b>%s</b> %s, %s.</p><ul><li>%s</li><li>Réf. %d</li></ul>",
					capitalize(noun), w2, c.words[rng.IntN(len(c.words))], w1, rng.IntN(90000)+10000)
			}
			rows = append(rows, row{c.code, title, desc})
		}
	}
	rng.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })

	xw, yw := csv.NewWriter(x), csv.NewWriter(y)
	if err := xw.Write([]string{"", "designation", "description", "productid", "imageid"}); err != nil {
		return fmt.Errorf("demodata: write X: %w", err)
	}
	if err := yw.Write([]string{"", "prdtypecode"}); err != nil {
		return fmt.Errorf("demodata: write Y: %w", err)
	}
	for i, r := range rows {
		idx := strconv.Itoa(i)
		if err := xw.Write([]string{idx, r.title, r.desc, strconv.Itoa(100000 + i), strconv.Itoa(500000 + i)}); err != nil {
			return fmt.Errorf("demodata: write X: %w", err)
		}
		if err := yw.Write([]string{idx, r.code}); err != nil {
			return fmt.Errorf("demodata: write Y: %w", err)
		}
	}
	xw.Flush()
	yw.Flush()
	if err := xw.Error(); err != nil {
		return fmt.Errorf("demodata: write X: %w", err)
	}
	if err := yw.Error(); err != nil {
		return fmt.Errorf("demodata: write Y: %w", err)
	}
	return nil
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	r := []rune(s)
	return strings.ToUpper(string(r[0])) + string(r[1:])
}
