// Package servingtest trains small real models for tests of the serving
// path, from a handful of product listings written for the purpose (no
// rows of the challenge data).
package servingtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"

	"github.com/prodcat/prodcat/internal/classifier"
	"github.com/prodcat/prodcat/internal/dataset"
	"github.com/prodcat/prodcat/internal/registry"
)

// listings are invented products of three categories: pool and spa
// (2583), new books (2705) and video game accessories (50).
var listings = []struct{ code, title, body string }{
	{"2583", "Pompe filtration piscine hors sol 4 m3/h", "Pompe de filtration pour piscine hors sol, débit 4 m3 par heure."},
	{"2583", "Bâche à bulles pour piscine ronde 4,5 m", "Bâche solaire à bulles, chauffe l'eau de la piscine."},
	{"2583", "Robot nettoyeur de fond de piscine", "Robot électrique, nettoie le fond et les parois de la piscine."},
	{"2583", "Spa gonflable 4 places bulles massantes", "Spa gonflable rond avec jets de bulles et pompe chauffante."},
	{"2583", "Échelle inox piscine enterrée 3 marches", "Échelle de piscine en acier inoxydable, trois marches."},
	{"2583", "Chlore lent galets 5 kg traitement piscine", "Galets de chlore pour le traitement de l'eau de piscine."},
	{"2705", "Le secret du phare - roman policier", "Un roman policier en Bretagne, broché, 320 pages."},
	{"2705", "Cuisine du marché : 100 recettes de saison", "Livre de recettes illustré, relié, édition neuve."},
	{"2705", "Histoire de France pour les enfants", "Livre illustré pour découvrir l'histoire, édition 2019."},
	{"2705", "Guide de randonnée des Alpes du Sud", "Livre guide avec cartes et itinéraires de randonnée."},
	{"2705", "Roman d'aventure : l'île aux trois lunes", "Roman jeunesse, livre broché, neuf, 250 pages."},
	{"2705", "Apprendre la photographie numérique", "Livre pratique pour débutants, nombreuses photos."},
	{"50", "Manette sans fil pour console noire", "Manette de jeu sans fil avec vibrations, compatible console."},
	{"50", "Câble de charge manette 3 m USB", "Câble USB pour recharger la manette de jeu pendant la partie."},
	{"50", "Housse de transport console portable", "Étui rigide pour console portable et jeux, fermeture éclair."},
	{"50", "Volant de course avec pédalier pour console", "Volant et pédales pour jeux de course sur console."},
	{"50", "Stylet et protection écran console portable", "Lot de stylets et films de protection pour écran tactile."},
	{"50", "Station de recharge double manette", "Socle de charge pour deux manettes de console de jeu."},
}

// Examples returns the invented listings as labelled examples.
func Examples() []dataset.Example {
	ex := make([]dataset.Example, len(listings))
	for i, l := range listings {
		ex[i] = dataset.Example{ID: fmt.Sprint(i + 1), Title: l.title, Body: l.body, Label: l.code}
	}
	return ex
}

// Model trains a small model on the invented listings and returns its
// file. variant is recorded in the metadata, so different variants give
// different files (and digests) with the same predictions.
func Model(tb testing.TB, variant string) []byte {
	tb.Helper()
	p := classifier.DefaultParams()
	p.Features.HashBits = 12
	p.Features.CharMinDF = 1
	m, err := classifier.Train(context.Background(), Examples(), p, classifier.Options{Workers: 1}, map[string]string{"variant": variant})
	if err != nil {
		tb.Fatalf("servingtest: train: %v", err)
	}
	classifier.NameRakuten(m) // the listings carry prdtypecodes
	data, err := m.Encode()
	if err != nil {
		tb.Fatalf("servingtest: encode: %v", err)
	}
	return data
}

// Digest returns the hex SHA-256 of data, as the registry records it.
func Digest(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// Version returns a registry version of model for the file data, stored
// under key.
func Version(model string, version int, key string, data []byte) registry.Version {
	return registry.Version{
		Model: model, Version: version, ArtifactKey: key, ArtifactDigest: Digest(data),
		Metrics: map[string]float64{}, Aliases: []string{},
	}
}
