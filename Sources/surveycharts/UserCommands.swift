import ArgumentParser
import Foundation
import SurveyServer
import Surveys
import SurveysPostgres

/// `surveycharts user add|list|remove|unlock`: the operators who may sign in to /admin.
struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user",
        abstract: "Manage the operators who sign in at /admin.",
        discussion: """
            No operator exists by default. Create the first with `surveycharts user add NAME`; it asks for \
            the password twice without echoing it (or reads one line from standard input with \
            --password-stdin). Passwords are stored as bcrypt hashes (cost 12).
            """,
        subcommands: [AddUser.self, ListUsers.self, RemoveUser.self, UnlockUser.self]
    )

    struct AddUser: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add", abstract: "Create an operator account.")

        @Argument(help: "The sign-in name: letters, digits, dots, dashes and underscores.")
        var name: String

        @Flag(help: "Read the password from the first line of standard input instead of the terminal.")
        var passwordStdin = false

        @OptionGroup var storage: DatabaseOption

        func run() async throws {
            do {
                try AdminUser.checkName(name)
            } catch let error as SurveyStoreError {
                CommandFailure("name \(error.message)", exitCode: .dataError).exit()
            }
            let password = passwordStdin ? Self.readLine() : Self.askTwice()
            if let problem = OperatorPasswords.problem(with: password) {
                CommandFailure("the password \(problem)", exitCode: .dataError).exit()
            }
            do {
                let store = try await storage.open()
                try await store.addUser(name: name, passwordHash: OperatorPasswords.hash(password), at: Date())
                print("added operator \(name) to \(storage.database); sign in at /admin/login")
            } catch let error as SurveyStoreError {
                CommandFailure(error.description, exitCode: error.code == .database ? .cantCreate : .dataError).exit()
            }
        }

        private static func readLine() -> String {
            var line = Swift.readLine(strippingNewline: true) ?? ""
            if line.hasSuffix("\r") { line.removeLast() }
            return line
        }

        /// Asks on the terminal with echo off, twice, so that a typing mistake cannot lock anyone out.
        private static func askTwice() -> String {
            guard isatty(STDIN_FILENO) == 1 else {
                CommandFailure(
                    "standard input is not a terminal; pass --password-stdin to read the password from it",
                    exitCode: .dataError
                ).exit()
            }
            let first = ask("Password: ")
            let second = ask("Password again: ")
            guard first == second else {
                CommandFailure("the passwords differ; nothing was changed", exitCode: .dataError).exit()
            }
            return first
        }

        private static func ask(_ prompt: String) -> String {
            FileHandle.standardError.write(Data(prompt.utf8))
            var saved = termios()
            tcgetattr(STDIN_FILENO, &saved)
            var silent = saved
            silent.c_lflag &= ~tcflag_t(ECHO)
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &silent)
            defer {
                tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved)
                FileHandle.standardError.write(Data("\n".utf8))
            }
            return readLine()
        }
    }

    struct ListUsers: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List the operators.")

        @OptionGroup var storage: DatabaseOption

        func run() async throws {
            storage.requireExisting()
            do {
                let store = try await storage.open()
                let users = try await store.users()
                if users.isEmpty {
                    FileHandle.standardError.write(
                        Data("no operators yet; add one with: surveycharts user add NAME\n".utf8))
                }
                let format = ISO8601DateFormatter()
                for user in users { print("\(user.name)\tcreated \(format.string(from: user.created))") }
            } catch let error as SurveyStoreError {
                CommandFailure(error.description, exitCode: .cantCreate).exit()
            }
        }
    }

    struct UnlockUser: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "unlock", abstract: "Forget an operator's failed sign-ins, on every server of the site.",
            discussion: """
                After five failed sign-ins in ten minutes, an account waits for browsers that have not \
                signed in to it before (its operators' own browsers are never kept out). This lets \
                everyone try again at once; attempts from a throttled address still wait.
                """)

        @Argument(help: "The operator's name, exactly as it signs in.")
        var name: String

        @OptionGroup var storage: DatabaseOption

        func run() async throws {
            storage.requireExisting()
            do {
                let store = try await storage.open()
                guard try await store.users().contains(where: { $0.name == name }) else {
                    CommandFailure("there is no operator called \(name)", exitCode: .dataError).exit()
                }
                // Settling no attempt as a success clears the account's failures, as a sign-in does.
                try await store.settleSignIn(attempt: 0, outcome: .succeeded(clearing: ["user:" + name]))
                print("unlocked operator \(name): its failed sign-ins are forgotten")
            } catch let error as SurveyStoreError {
                CommandFailure(error.description, exitCode: .cantCreate).exit()
            }
        }
    }

    struct RemoveUser: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "remove", abstract: "Remove an operator and end their sessions.")

        @Argument(help: "The operator's name.")
        var name: String

        @OptionGroup var storage: DatabaseOption

        func run() async throws {
            do {
                let store = try await storage.open()
                guard try await store.removeUser(name: name) else {
                    CommandFailure("there is no operator called \(name)", exitCode: .dataError).exit()
                }
                print("removed operator \(name)")
            } catch let error as SurveyStoreError {
                CommandFailure(error.description, exitCode: .cantCreate).exit()
            }
        }
    }
}
