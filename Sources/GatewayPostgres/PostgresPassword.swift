import Foundation
import GatewayConfig

/// Where the database password comes from, never the configuration file:
/// `APPROVAL_GATEWAY_DATABASE_PASSWORD`, else the first matching line of the password file
/// (`PGPASSFILE`, else `~/.pgpass`), else none (the server may trust the connection).
public enum PostgresPassword {
    /// The environment variable holding the password.
    public static let environmentVariable = "APPROVAL_GATEWAY_DATABASE_PASSWORD"

    /// The password for `url`, or `nil` when none is given.
    /// - Throws: ``PostgresStoreError`` when `PGPASSFILE` names a file that cannot be read.
    public static func resolve(for url: PostgresURL, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String? {
        if let password = environment[environmentVariable], !password.isEmpty { return password }
        let explicitFile = environment["PGPASSFILE"]
        let path = explicitFile ?? environment["HOME"].map { $0 + "/.pgpass" }
        guard let path else { return nil }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            if explicitFile != nil { throw PostgresStoreError("PGPASSFILE \(path) cannot be read") }
            return nil
        }
        return PasswordFile(text).password(host: url.host, port: url.port, database: url.database, user: url.user)
    }
}

/// A libpq password file: `hostname:port:database:username:password` per line, `*` matching
/// anything, `\:` and `\\` escaping, `#` starting a comment; the first matching line wins.
public struct PasswordFile: Sendable, Hashable {
    /// The parsed lines, in order (malformed lines are skipped, as libpq does).
    public var entries: [[String]]

    public init(_ text: String) {
        entries = text.split(whereSeparator: \.isNewline).compactMap { line -> [String]? in
            guard !line.hasPrefix("#") else { return nil }
            var fields: [String] = []
            var current = ""
            var escaped = false
            for character in line {
                if escaped {
                    current.append(character)
                    escaped = false
                } else if character == "\\" {
                    escaped = true
                } else if character == ":", fields.count < 4 {
                    fields.append(current)
                    current = ""
                } else {
                    current.append(character)
                }
            }
            fields.append(current)
            return fields.count == 5 ? fields : nil
        }
    }

    /// The password of the first line matching the connection, if any.
    public func password(host: String, port: Int, database: String, user: String) -> String? {
        let wanted = [host, String(port), database, user]
        for entry in entries {
            let matches = zip(entry.prefix(4), wanted).allSatisfy { field, value in
                field == "*" || field == value
            }
            if matches { return entry[4] }
        }
        return nil
    }
}
