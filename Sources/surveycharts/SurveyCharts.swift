import ArgumentParser

/// The `surveycharts` command line: one program for rendering, caching and serving survey charts.
@main
struct SurveyCharts: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "surveycharts",
        abstract: "Survey results as labelled pie charts: render, cache and serve them.",
        discussion: """
            Every option can also be set with an environment variable named after it, such as \
            SURVEYCHARTS_CHARTS_DIR for --charts-dir.
            """,
        subcommands: [
            ServeCommand.self, ImportCommand.self, ExportCommand.self, PrerenderCommand.self, PruneCommand.self,
            RenderCommand.self, DemoCommand.self, UserCommand.self, MigrateStoreCommand.self,
        ]
    )
}
