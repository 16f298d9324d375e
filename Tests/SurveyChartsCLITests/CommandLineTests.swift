import Foundation
import TestSupport
import Testing

/// Runs the real `surveycharts` binary as a user types it.
@Suite("surveycharts command line", .timeLimit(.minutes(2)))
struct CommandLineTests {
    @Test func renderWritesAPNGAndSaysWhere() throws {
        let directory = try TemporaryDirectory()
        let spec = try directory.write(
            "spec.json", #"{"title": "Favourite?", "slices": [{"label": "Comedy", "value": 2}]}"#)
        let output = directory.path + "/chart.png"
        let result = try Executable.run(["render", spec, "--output", output])
        #expect(result.status == 0, "\(result.standardError)")
        let png = try Data(contentsOf: URL(fileURLWithPath: output))
        #expect(Array(png.prefix(8)) == [137, 80, 78, 71, 13, 10, 26, 10])
        #expect(Self.pngSize(png) == (640, 400))
        #expect(result.standardOutput.contains(output))
        #expect(try directory.entries() == ["chart.png", "spec.json"])
    }

    @Test func scaleOptionMultipliesPixels() throws {
        let directory = try TemporaryDirectory()
        let spec = try directory.write(
            "spec.json", #"{"slices": [{"label": "A", "value": 1}], "width": 300, "height": 200}"#)
        let result = try Executable.run(["render", spec, "--output", directory.path + "/c.png", "--scale", "2"])
        #expect(result.status == 0)
        #expect(Self.pngSize(try Data(contentsOf: URL(fileURLWithPath: directory.path + "/c.png"))) == (600, 400))
    }

    @Test func badSpecExitsWithOneLineNamingTheFieldAndWritesNothing() throws {
        let directory = try TemporaryDirectory()
        let cases: [(json: String, field: String)] = [
            (#"{"slices": [{"label": "A", "value": -1}]}"#, "slices[0].value"),
            (#"{"slices": [{"label": "A", "value": 1}], "width": 5000}"#, "width"),
            (#"{"slices": []}"#, "slices"),
            (#"{"slices": [{"label": "A", "value": 1}], "scale": 9}"#, "scale"),
            (#"{"slices": "#, "$"),
        ]
        for (index, testCase) in cases.enumerated() {
            let spec = try directory.write("bad\(index).json", testCase.json)
            let output = directory.path + "/out\(index).png"
            let result = try Executable.run(["render", spec, "--output", output])
            #expect(result.status == 65, "\(testCase.json): \(result.standardError)")
            let lines = result.standardError.split(separator: "\n")
            #expect(lines.count == 1, "\(result.standardError)")
            #expect(lines.first?.contains("\(testCase.field): ") == true, "\(result.standardError)")
            #expect(!FileManager.default.fileExists(atPath: output))
        }
        // An existing file is left as it was.
        let existing = try directory.write("keep.png", "previous")
        let spec = try directory.write("bad.json", #"{"slices": [{"label": "A", "value": 1.5}]}"#)
        #expect(try Executable.run(["render", spec, "--output", existing]).status == 65)
        #expect(try String(contentsOfFile: existing, encoding: .utf8) == "previous")
        #expect(try directory.entries().allSatisfy { !$0.hasPrefix(".") })
    }

    @Test func scaleOverrideIsValidatedToo() throws {
        let directory = try TemporaryDirectory()
        let spec = try directory.write("spec.json", #"{"slices": [{"label": "A", "value": 1}]}"#)
        let result = try Executable.run(["render", spec, "--output", directory.path + "/c.png", "--scale", "7"])
        #expect(result.status == 65)
        #expect(result.standardError.contains("scale: must be 1...3"))
    }

    @Test func missingSpecFileIsAClearError() throws {
        let directory = try TemporaryDirectory()
        let result = try Executable.run([
            "render", directory.path + "/nope.json", "--output", directory.path + "/c.png",
        ])
        #expect(result.status == 74)
        #expect(result.standardError.contains("cannot read"))
    }

    @Test func twoProcessesWriteIdenticalBytes() throws {
        let directory = try TemporaryDirectory()
        let spec = try directory.write(
            "spec.json",
            #"{"title": "你最喜欢哪种类型的电视节目？", "slices": [{"label": "喜剧", "value": 14}, {"label": "电视剧", "value": 9}, {"label": "Reality", "value": 6}]}"#
        )
        let first = try Executable.start(["render", spec, "--output", directory.path + "/a.png"])
        let second = try Executable.start(["render", spec, "--output", directory.path + "/b.png"])
        let (firstRun, secondRun) = (try first.finish(), try second.finish())
        #expect(firstRun.status == 0 && secondRun.status == 0, "\(firstRun.standardError) \(secondRun.standardError)")
        let a = try Data(contentsOf: URL(fileURLWithPath: directory.path + "/a.png"))
        let b = try Data(contentsOf: URL(fileURLWithPath: directory.path + "/b.png"))
        #expect(a == b && a.count > 1000)
    }

    @Test func helpDescribesTheCommands() throws {
        let result = try Executable.run(["--help"])
        #expect(result.status == 0)
        #expect(result.standardOutput.contains("render"))
        let render = try Executable.run(["render", "--help"])
        #expect(render.standardOutput.contains("--output"))
        #expect(render.standardOutput.contains("--scale"))
        for command in ["serve", "prerender", "prune"] {
            let help = try Executable.run([command, "--help"]).standardOutput
            #expect(help.contains("--database") && help.contains("--charts-dir"), "\(command)")
        }
        let scratch = try TemporaryDirectory()
        let mars = try Executable.refusedServe([
            "--time-zone", "Mars/Olympus", "--database", scratch.path + "/surveys.sqlite3", "--charts-dir",
            scratch.path + "/piecharts", "--static-dir", scratch.path, "--no-prerender",
        ])
        #expect(mars.status != 0 && mars.standardError.contains("is not a time zone"), "\(mars.standardError)")
        for (option, value, message) in [
            ("--shutdown-grace", "0", "--shutdown-grace must be more than 0 and at most 3600 seconds, got 0.0"),
            ("--database-start-timeout", "7200", "--database-start-timeout must be 0 to 3600 seconds, got 7200.0"),
        ] {
            let refused = try Executable.refusedServe([
                option, value, "--database", scratch.path + "/surveys.sqlite3", "--charts-dir",
                scratch.path + "/piecharts", "--static-dir", scratch.path, "--no-prerender",
            ])
            #expect(refused.status != 0 && refused.standardError.contains(message), "\(refused.standardError)")
        }
        let serveHelp = try Executable.run(["serve", "--help"]).standardOutput
        #expect(serveHelp.contains("--shutdown-grace") && serveHelp.contains("--database-start-timeout"))
        let missing = try Executable.run(["render"])
        #expect(missing.status != 0)
        #expect(missing.standardError.contains("Missing expected argument"))
    }

    @Test func demoRendersEveryReferenceChart() throws {
        let directory = try TemporaryDirectory()
        let result = try Executable.run(["demo", "--charts-dir", directory.path + "/charts"])
        #expect(result.status == 0, "\(result.standardError)")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path + "/charts").sorted()
        #expect(files.contains("tv-new-shows.png") && files.contains("no-votes.png") && files.contains("chinese.png"))
        #expect(result.standardOutput.contains("Hardly any: I already watch too much TV!: 63%"))
    }

    static func pngSize(_ png: Data) -> (Int, Int) {
        let bytes = Array(png)
        let width = bytes[16..<20].reduce(0) { $0 << 8 | Int($1) }
        let height = bytes[20..<24].reduce(0) { $0 << 8 | Int($1) }
        return (width, height)
    }
}

/// `surveycharts user add|list|remove`, as an operator types them.
@Suite("surveycharts user", .timeLimit(.minutes(2)))
struct UserCommandTests {
    static func add(_ name: String, password: String, database: String) throws -> Executable.Result {
        let running = try Executable.start(["user", "add", name, "--password-stdin", "--database", database])
        running.input(password + "\n")
        return try running.finish()
    }

    @Test func addListAndRemoveOperators() throws {
        let directory = try TemporaryDirectory()
        let database = directory.path + "/surveys.sqlite3"
        let added = try Self.add("ann", password: "correct horse battery", database: database)
        #expect(added.status == 0, "\(added.standardError)")
        #expect(added.standardOutput.contains("added operator ann"))
        #expect(try Self.add("bob.smith-2", password: "another good one", database: database).status == 0)
        let listed = try Executable.run(["user", "list", "--database", database])
        #expect(listed.status == 0)
        #expect(
            listed.standardOutput.split(separator: "\n").map { $0.split(separator: "\t")[0] } == ["ann", "bob.smith-2"])
        // The password is stored as a bcrypt hash of cost 12, never as given.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: database))
        #expect(bytes.range(of: Data("correct horse battery".utf8)) == nil)
        let removed = try Executable.run(["user", "remove", "ann", "--database", database])
        #expect(removed.status == 0 && removed.standardOutput.contains("removed operator ann"))
        let again = try Executable.run(["user", "remove", "ann", "--database", database])
        #expect(again.status == 65)
        #expect(again.standardError == "surveycharts: there is no operator called ann\n")
    }

    @Test func badNamesAndPasswordsAreOneLineErrorsAndChangeNothing() throws {
        let directory = try TemporaryDirectory()
        let database = directory.path + "/surveys.sqlite3"
        #expect(try Self.add("ann", password: "correct horse battery", database: database).status == 0)
        let cases: [(String, String, String)] = [
            ("ann", "another good password", "a user called ann already exists"),
            ("two words", "another good password", "name must be 1 to 64 letters, digits"),
            ("<b>", "another good password", "name must be 1 to 64 letters, digits"),
            ("carol", "short", "the password must be at least 10 characters long"),
            ("carol", String(repeating: "é", count: 40), "the password must be at most 72 bytes"),
            ("carol", "", "the password must be at least 10 characters long"),
        ]
        for (name, password, message) in cases {
            let result = try Self.add(name, password: password, database: database)
            #expect(result.status == 65, "\(name)")
            #expect(result.standardError.hasPrefix("surveycharts: "), "\(name)")
            #expect(result.standardError.contains(message), "\(name): \(result.standardError)")
            #expect(result.standardError.split(separator: "\n").count == 1, "\(name)")
        }
        // Without --password-stdin and without a terminal, it says what to do instead of hanging.
        let noTerminal = try Executable.start(["user", "add", "dave", "--database", database]).finish()
        #expect(noTerminal.status == 65)
        #expect(noTerminal.standardError.contains("pass --password-stdin"))
        let listed = try Executable.run(["user", "list", "--database", database])
        #expect(listed.standardOutput.split(separator: "\n").count == 1)
        let help = try Executable.run(["user", "add", "--help"]).standardOutput
        #expect(help.contains("--password-stdin") && help.contains("--database"))
    }
}

/// `surveycharts migrate-store`: a SQLite site copied whole into PostgreSQL, ids and all.
@Suite("surveycharts migrate-store", .timeLimit(.minutes(2)))
struct MigrateStoreTests {
    @Test func aSQLiteSiteMovesToPostgreSQLWhole() throws {
        let cluster = try #require(TestPostgres.clusterURL, Comment(rawValue: TestPostgres.missing))
        let directory = try TemporaryDirectory()
        let sqlite = directory.path + "/site.sqlite3"
        let surveys = try directory.write(
            "surveys.json",
            #"{"surveys": [{"id": 7, "title": "Lunch, \"really\"", "opens": "2026-11-01", "closes": "2026-11-30", "#
                + #""questions": [{"id": 70, "text": "Pizza?", "answers": [{"id": 700, "text": "Yes", "votes": 5}, "#
                + #"{"id": 701, "text": "No", "votes": 2}]}]}]}"#)
        #expect(try Executable.run(["import", surveys, "--database", sqlite]).status == 0)
        let added = try Executable.start(["user", "add", "ann", "--password-stdin", "--database", sqlite])
        added.input("correct horse battery\n")
        #expect(try added.finish().status == 0)
        let postgres = try TestPostgres.freshDatabase(cluster)
        let moved = try Executable.run(["migrate-store", "--from", sqlite, "--to", postgres])
        #expect(moved.status == 0, "\(moved.standardError)")
        #expect(moved.standardOutput.contains("copied 1 surveys (2 answers with their votes), 1 operators"))
        let before = try Executable.run(["export", "--database", sqlite]).standardOutput
        let after = try Executable.run(["export", "--database", postgres]).standardOutput
        #expect(!before.isEmpty && before == after)
        #expect(try Executable.run(["user", "list", "--database", postgres]).standardOutput.hasPrefix("ann\t"))
        // The hash moved, not a new one.
        let hash = try TestPostgres.psql(postgres, "SELECT password_hash FROM admin_user")
        #expect(hash.hasPrefix("$2b$12$"))
        // A second copy into a store that holds a site is refused, and changes nothing.
        let again = try Executable.run(["migrate-store", "--from", sqlite, "--to", postgres])
        #expect(again.status == 65)
        #expect(again.standardError.contains("migrate into an empty store"))
        #expect(try Executable.run(["export", "--database", postgres]).standardOutput == before)
        let missing = try Executable.run([
            "migrate-store", "--from", directory.path + "/nope.sqlite3", "--to", postgres,
        ])
        #expect(missing.status == 66 && missing.standardError.contains("does not exist"))
        let wrong = try Executable.run(["migrate-store", "--from", sqlite, "--to", "postgres://nobody@127.0.0.1:1/x"])
        #expect(
            wrong.status == 73
                && wrong.standardError.contains("cannot open the database postgres://nobody@127.0.0.1:1/x"))
    }
}
