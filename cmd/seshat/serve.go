package main

import (
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/seshatsec/seshat/internal/app"
	"github.com/seshatsec/seshat/internal/config"
)

func serveCmd() *cobra.Command {
	var (
		listen, data, file string
		check              bool
		intel              []string
	)
	var envHelp strings.Builder
	for _, e := range config.Env {
		fmt.Fprintf(&envHelp, "  %-22s %s\n", e.Name, e.Sets)
	}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the Seshat server on the embedded store",
		Long: "Run the Seshat server. Settings come from defaults, then --config, then the\n" +
			"environment, then flags. On the first start of an empty data folder a new\n" +
			"admin API key is printed (or SESHAT_ADMIN_KEY is used).\n\nEnvironment:\n" + envHelp.String(),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(file, os.Getenv)
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("listen") {
				cfg.Listen = listen
			}
			if cmd.Flags().Changed("data") {
				cfg.Data = data
			}
			cfg.Intel = append(cfg.Intel, intel...)
			if err := cfg.Validate(); err != nil {
				return err
			}
			if check {
				fmt.Fprintln(cmd.OutOrStdout(), "configuration is valid")
				return nil
			}
			log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
			return app.Run(cmd.Context(), cfg, log, cmd.OutOrStdout())
		},
	}
	def := config.Default()
	cmd.Flags().StringVar(&listen, "listen", def.Listen, "address to listen on (host:port)")
	cmd.Flags().StringVar(&data, "data", def.Data, "data folder (the DuckDB database lives here)")
	cmd.Flags().StringVar(&file, "config", "", "YAML configuration file (unknown keys are rejected)")
	cmd.Flags().StringArrayVar(&intel, "intel", nil, "threat-intelligence feed file or folder (repeatable; added to the configuration's intel)")
	cmd.Flags().BoolVar(&check, "check-config", false, "validate the configuration and exit")
	return cmd
}
