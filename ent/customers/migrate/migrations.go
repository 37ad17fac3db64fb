package migrate

import (
	"embed"
	"io/fs"
)

//go:embed migrations
var files embed.FS

// Migrations holds the customers database's versioned migrations, for database.Open: goose SQL files
// in one directory per dialect ("sqlite", "postgres"), written by ent/generate.sh.
var Migrations = func() fs.FS {
	sub, err := fs.Sub(files, "migrations")
	if err != nil {
		panic(err) // unreachable: the directory is embedded
	}
	return sub
}()
