import Foundation

/// Where the gateway keeps its data: an SQLite file (the embedded default, one gateway) or a
/// PostgreSQL database (any number of gateways).
///
/// The configuration's `database` key holds either a path or a URL:
///
/// ```yaml
/// database: var/approval-gateway.sqlite
/// database: postgres://gateway@db.internal:5432/approvals?sslmode=verify-full
/// ```
public enum DatabaseLocation: Sendable, Hashable, CustomStringConvertible {
    /// An SQLite database file (absolute path).
    case sqlite(path: String)
    /// A PostgreSQL database.
    case postgres(PostgresURL)

    /// The location as an operator wrote it (never with a password: URLs cannot hold one).
    public var description: String {
        switch self {
        case .sqlite(let path): path
        case .postgres(let url): url.description
        }
    }

    /// Reads a `database` value: a `postgres://` or `postgresql://` URL, or else a file path
    /// (relative to `baseDirectory`).
    public static func parse(_ value: String, baseDirectory: String) throws(DatabaseLocationError) -> DatabaseLocation {
        let lowered = value.lowercased()
        if lowered.hasPrefix("postgres://") || lowered.hasPrefix("postgresql://") {
            return .postgres(try PostgresURL(value))
        }
        if lowered.contains("://") {
            throw DatabaseLocationError("must be a file path or a postgres:// URL, not \"\(value)\"")
        }
        if value.hasPrefix("/") { return .sqlite(path: URL(fileURLWithPath: value).standardizedFileURL.path) }
        return .sqlite(path: URL(fileURLWithPath: baseDirectory).appendingPathComponent(value).standardizedFileURL.path)
    }
}

/// A `database` value that is neither a usable path nor a usable PostgreSQL URL.
public struct DatabaseLocationError: Error, Sendable, Hashable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) { self.description = description }
}

/// A PostgreSQL database URL, in the libpq form
/// `postgres://USER@HOST[:PORT]/DBNAME[?sslmode=…&sslrootcert=…&pool=…]`.
///
/// The password is deliberately not part of it: configuration files are copied, committed and
/// printed. It comes from `APPROVAL_GATEWAY_DATABASE_PASSWORD` or a password file (`PGPASSFILE`,
/// else `~/.pgpass`).
public struct PostgresURL: Sendable, Hashable, CustomStringConvertible {
    /// How the connection uses TLS, with libpq's meanings.
    public enum SSLMode: String, Sendable, Hashable, CaseIterable {
        /// Never TLS.
        case disable
        /// TLS when the server offers it, without checking its certificate (libpq's default).
        case prefer
        /// TLS or no connection; the certificate is not checked (encryption against passive listeners only).
        case require
        /// TLS with the certificate checked against the CA file (`sslrootcert`) or the system's
        /// trust store, and its name against the host.
        case verifyFull = "verify-full"
    }

    public var user: String
    public var host: String
    public var port: Int
    public var database: String
    public var sslMode: SSLMode
    /// A PEM file of certificate authorities for `verify-full` (`nil`: the system's trust store).
    public var sslRootCertificate: String?
    /// The most connections one gateway opens (``defaultPoolSize`` unless the URL says `pool=`).
    public var poolSize: Int

    /// Twice this machine's cores, at least four.
    ///
    /// Each connection is a server process that runs when its statement does. More of them than
    /// the cores can run makes the server's scheduler the queue, and it is not a fair one: with ten
    /// connections on two cores, one backend waited 187 ms for a core while the others ran, and
    /// `/healthz` (one read) had p99 of 100 to 880 ms; with four, 7 to 8 ms at the same throughput
    /// (BENCHMARKS.md). A gateway's requests queue for a connection in arrival order instead.
    public static var defaultPoolSize: Int { max(4, 2 * ProcessInfo.processInfo.activeProcessorCount) }

    /// Parses a URL, naming the first problem.
    public init(_ text: String) throws(DatabaseLocationError) {
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
              scheme == "postgres" || scheme == "postgresql"
        else { throw DatabaseLocationError("\"\(text)\" is not a postgres:// URL") }
        guard components.password == nil else {
            throw DatabaseLocationError(
                "the database URL must not contain a password (it would be copied wherever the configuration goes); set APPROVAL_GATEWAY_DATABASE_PASSWORD or use a PGPASSFILE"
            )
        }
        guard let user = components.user.flatMap({ $0.removingPercentEncoding }), !user.isEmpty else {
            throw DatabaseLocationError("the database URL needs a user: postgres://USER@HOST/DBNAME")
        }
        guard let host = components.host, !host.isEmpty else {
            throw DatabaseLocationError("the database URL needs a host: postgres://USER@HOST/DBNAME")
        }
        let name = String(components.path.drop(while: { $0 == "/" }))
        guard !name.isEmpty, !name.contains("/"), let database = name.removingPercentEncoding else {
            throw DatabaseLocationError("the database URL needs one database name: postgres://USER@HOST/DBNAME")
        }
        if let port = components.port, !(1...65535).contains(port) {
            throw DatabaseLocationError("the database port must be between 1 and 65535, not \(port)")
        }
        self.user = user
        self.host = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
        self.port = components.port ?? 5432
        self.database = database
        self.sslMode = .prefer
        self.sslRootCertificate = nil
        self.poolSize = Self.defaultPoolSize
        for item in components.queryItems ?? [] {
            let value = item.value ?? ""
            switch item.name {
            case "sslmode":
                guard let mode = SSLMode(rawValue: value) else {
                    throw DatabaseLocationError(
                        "sslmode must be one of \(SSLMode.allCases.map(\.rawValue).joined(separator: ", ")), not \"\(value)\""
                    )
                }
                sslMode = mode
            case "sslrootcert":
                guard value.hasPrefix("/") else { throw DatabaseLocationError("sslrootcert must be an absolute path, not \"\(value)\"") }
                sslRootCertificate = value
            case "pool":
                guard let size = Int(value), (1...500).contains(size) else {
                    throw DatabaseLocationError("pool must be a number of connections from 1 to 500, not \"\(value)\"")
                }
                poolSize = size
            default:
                throw DatabaseLocationError("unknown database URL parameter \"\(item.name)\" (known: sslmode, sslrootcert, pool)")
            }
        }
        if sslRootCertificate != nil, sslMode != .verifyFull {
            throw DatabaseLocationError("sslrootcert is only used with sslmode=verify-full")
        }
    }

    /// The URL in its canonical form, without a password.
    public var description: String {
        var components = URLComponents()
        components.scheme = "postgres"
        components.user = user
        components.host = host.contains(":") ? "[\(host)]" : host
        components.port = port
        components.path = "/" + database
        var items = [URLQueryItem(name: "sslmode", value: sslMode.rawValue)]
        if let sslRootCertificate { items.append(URLQueryItem(name: "sslrootcert", value: sslRootCertificate)) }
        if poolSize != Self.defaultPoolSize { items.append(URLQueryItem(name: "pool", value: String(poolSize))) }
        components.queryItems = items
        return components.string ?? "postgres://\(user)@\(host):\(port)/\(database)"
    }
}
