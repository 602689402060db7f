import ArgumentParser
import Foundation
import NewsControl
import SyncProtocol

/// `newsctl web-user add|remove|list`: the web view's accounts.
struct WebUserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "web-user", abstract: "Accounts of the web view: add, remove, list.",
        subcommands: [WebUserAdd.self, WebUserRemove.self, WebUserList.self], defaultSubcommand: WebUserList.self)
}

struct WebUserList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "The web view's accounts and their roles.")
    @OptionGroup var options: ClientOptions

    func run() async throws {
        let accounts = try await options.send(WebUserRequest(action: .list))
        if options.json { return try options.printJSON(accounts) }
        if accounts.isEmpty { print("no web accounts (newsctl web-user add NAME --role editor)") }
        for account in accounts { print("\(account.name)  \(account.role.rawValue)  added \(account.added)") }
    }
}

struct WebUserAdd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add", abstract: "Add an account (or set a new password and role for one).",
        discussion: "The password is asked for on the terminal, or read from the first line of standard input with --password-stdin. newsd keeps only its bcrypt hash.")
    @OptionGroup var options: ClientOptions
    @Argument(help: ArgumentHelp("Account name: letters, digits, '.', '_' or '-'.", valueName: "NAME"))
    var name: String
    @Option(help: "viewer (reads every page) or editor (also restores and resolves).")
    var role: WebUserRequest.Role = .viewer
    @Flag(help: "Read the password from the first line of standard input.")
    var passwordStdin = false

    func run() async throws {
        let password: String
        if passwordStdin {
            guard let line = readLine(strippingNewline: true) else { throw fail("--password-stdin: nothing on standard input") }
            password = line
        } else {
            guard isatty(STDIN_FILENO) == 1 else { throw fail("no terminal to ask for the password on: use --password-stdin") }
            let first = Self.ask("password for \(name): ")
            let again = Self.ask("again: ")
            guard first == again else { throw fail("the two passwords differ") }
            password = first
        }
        let added = try await options.send(WebUserRequest(action: .add, name: name, role: role, password: password))
        if options.json { return try options.printJSON(added) }
        for account in added { print("web account \(account.name): \(account.role.rawValue)") }
    }

    /// A line read from the terminal with echo off.
    static func ask(_ prompt: String) -> String {
        FileHandle.standardError.write(Data(prompt.utf8))
        var saved = termios()
        tcgetattr(STDIN_FILENO, &saved)
        var quiet = saved
        quiet.c_lflag &= ~tcflag_t(ECHO)
        tcsetattr(STDIN_FILENO, TCSANOW, &quiet)
        defer {
            tcsetattr(STDIN_FILENO, TCSANOW, &saved)
            FileHandle.standardError.write(Data("\n".utf8))
        }
        return readLine(strippingNewline: true) ?? ""
    }
}

struct WebUserRemove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "remove", abstract: "Remove an account; its browsers are signed out.")
    @OptionGroup var options: ClientOptions
    @Argument(help: ArgumentHelp("Account name.", valueName: "NAME"))
    var name: String

    func run() async throws {
        let removed = try await options.send(WebUserRequest(action: .remove, name: name))
        if options.json { return try options.printJSON(removed) }
        print("web account \(name) removed; its sessions are ended")
    }
}

extension WebUserRequest.Role: ExpressibleByArgument {}
