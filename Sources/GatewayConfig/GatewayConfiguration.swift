import Foundation
import GatewayCore
import Yams

/// STARTTLS policy for `smtp://` and `imap://` URLs (`smtps://` and `imaps://` always use TLS).
public enum StartTLSSetting: String, Sendable, CaseIterable {
    /// Upgrade or fail.
    case required
    /// Upgrade when the server offers it.
    case opportunistic
    /// Never upgrade (loopback test servers only).
    case off

    /// The policy when the configuration names none: `required` for every server that is not on
    /// loopback (a network attacker must not be able to strip STARTTLS and read the links), and
    /// `opportunistic` on loopback, where the traffic never leaves the machine.
    public static func `default`(for url: String) -> StartTLSSetting {
        isLoopback(url) ? .opportunistic : .required
    }

    /// Whether the URL's host is `localhost`, in 127.0.0.0/8 or `::1`.
    public static func isLoopback(_ url: String) -> Bool {
        guard let host = URL(string: url)?.host?.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]")) else { return false }
        return host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }
}

/// Outgoing mail.
public struct SMTPSettings: Sendable, Hashable {
    /// `smtp://host:port` or `smtps://host:port`.
    public var url: String
    public var username: String?
    public var password: String?
    /// The envelope sender and `From` address of the gateway's mail.
    public var from: String
    /// A CA bundle to verify the server with, instead of the system's.
    public var caFile: String?
    public var startTLS: StartTLSSetting
    /// Certificate verification; turning it off is explicit and logged.
    public var verifyCertificates: Bool
    public var timeoutSeconds: Int
    /// How many connections the outbox sends over side by side (one person's emails still leave in
    /// order); 1 to 16.
    public var connections: Int = 4
    /// The envelope sender pattern with `{id}` (VERP), on the gateway's mailbox, so that bounces come
    /// back to the inbox naming their email (LOOP-5); `nil` sends from ``from``.
    public var bounceAddress: String? = nil
}

/// Retry policy and identity of outgoing mail (beyond the SMTP connection).
public struct DeliverySettings: Sendable, Hashable {
    /// Attempts per email before it is marked failed (transient errors only; 5xx fails at once).
    public var maxAttempts: Int
    /// The first retry delay in seconds; each retry doubles it, up to ``retryMaxSeconds``.
    public var retryInitialSeconds: Int
    public var retryMaxSeconds: Int
}

/// Notification timing.
public struct NotificationSettings: Sendable, Hashable {
    /// The display name of the gateway's `From`.
    public var fromName: String
    /// Whether reminders are sent.
    public var remindersEnabled: Bool
    /// How long before a request's deadline the one reminder goes out, in seconds.
    public var reminderBeforeSeconds: Int
    /// How often the expiry, reminder and auto-lock sweep runs, in seconds.
    public var sweepIntervalSeconds: Int
}

/// The gateway's mailbox.
public struct IMAPSettings: Sendable, Hashable {
    /// `imap://host:port/FOLDER` or `imaps://host:port/FOLDER`.
    public var url: String
    public var username: String?
    public var password: String?
    public var caFile: String?
    public var startTLS: StartTLSSetting
    public var verifyCertificates: Bool
    /// Where processed replies are moved.
    public var processedFolder: String
    /// Where refused or unreadable mail is moved.
    public var rejectedFolder: String
    /// Seconds between polls when IDLE is unavailable or as a fallback.
    public var pollIntervalSeconds: Int
    /// Messages larger than this are not downloaded (IMAP-4).
    public var maxMessageBytes: Int
    public var timeoutSeconds: Int
}

/// The web server.
public struct HTTPSettings: Sendable, Hashable {
    /// `host:port` to listen on.
    public var listen: String
    /// The URL the gateway's links point to.
    public var publicURL: String
    /// Reverse proxies whose `X-Forwarded-For` names the client (addresses or CIDR blocks); empty
    /// when the gateway faces clients directly.
    public var trustedProxies: [IPAddressRange] = []
}

/// Decisions by email reply.
public struct ReplySettings: Sendable, Hashable {
    /// The reply address pattern; `{key}` is replaced by the per-recipient reply key.
    public var address: String
    /// The `authserv-id` of the receiving mail server whose `Authentication-Results` the gateway trusts.
    public var trustedAuthservID: String?
    /// Whether replies must carry a passing `Authentication-Results` from the trusted server (REPLY-4).
    public var requireAuthentication: Bool
}

/// How people sign in to the web pages.
public struct AuthSettings: Sendable, Hashable {
    /// Whether the sign-in page offers emailed sign-in links (`auth.email_links`, default true).
    public var emailLinks: Bool = true
    /// The organisation's OpenID Connect provider, if configured.
    public var oidc: OIDCSettings? = nil
}

/// Sign-in through an OpenID Connect provider (`auth.oidc.*`).
public struct OIDCSettings: Sendable, Hashable {
    /// The issuer URL; `ISSUER/.well-known/openid-configuration` describes the provider.
    public var issuer: String
    public var clientID: String
    /// Only from the environment (`APPROVAL_GATEWAY_AUTH_OIDC_CLIENT_SECRET`); `nil` for a public client.
    public var clientSecret: String?
    /// Scopes asked for; always includes `openid`.
    public var scopes: [String]
    /// The provider's name on the sign-in page.
    public var name: String
    /// The ID token claim listing the person's groups, for group sync.
    public var groupsClaim: String?
    /// Directory groups whose membership follows the provider's groups at sign-in.
    public var syncedGroups: [String]
    /// Certificate authorities to trust for the provider (PEM), instead of the system's.
    public var caFile: String?
}

/// Token signing.
public struct SigningSettings: Sendable, Hashable {
    /// The keys file (`KID:BASE64SECRET` per line, the first one signing); `nil` uses a file beside the database.
    public var keysFile: String?
}

/// The gateway's configuration, read from YAML (default `config/gateway.yaml`) with environment overrides.
///
/// Every key may be overridden by an environment variable named `APPROVAL_GATEWAY_` followed by the
/// key path in capitals with `_` for `.`: `smtp.password` is `APPROVAL_GATEWAY_SMTP_PASSWORD`. That is
/// the way to give secrets. Relative paths in the file are relative to the file's directory.
/// Unknown keys and bad values are errors that name the key.
public struct GatewayConfiguration: Sendable, Hashable {
    /// The database: an SQLite file (absolute path) or a PostgreSQL URL.
    public var database: DatabaseLocation
    /// The directory file imported on start (absolute), if any.
    public var directory: String?
    /// A folder overriding the built-in email and web templates; `nil` for the built-in ones.
    public var templates: String?
    public var http: HTTPSettings
    public var smtp: SMTPSettings
    public var delivery: DeliverySettings
    public var notifications: NotificationSettings
    public var imap: IMAPSettings
    public var reply: ReplySettings
    public var signing: SigningSettings
    public var auth: AuthSettings = AuthSettings()
    /// The file the configuration came from, if any.
    public var sourceFile: String?

    /// The prefix of environment overrides.
    public static let environmentPrefix = "APPROVAL_GATEWAY_"

    enum Kind: Equatable {
        case string, path, database, bool, positiveInt, count(max: Int), duration, url(schemes: [String]), choice([String]), email, replyAddress, bounceAddress, addressList, nameList
    }

    /// Every key the file may hold, with its kind and default.
    static let schema: [(key: String, kind: Kind, defaultValue: String?)] = [
        ("database", .database, "var/approval-gateway.sqlite"),
        ("directory", .path, nil),
        // No default: the templates built into the binary; a folder given here overrides them.
        ("templates", .path, nil),
        ("http.listen", .string, "127.0.0.1:8080"),
        ("http.public_url", .url(schemes: ["http", "https"]), "http://127.0.0.1:8080"),
        ("http.trusted_proxies", .addressList, nil),
        ("smtp.url", .url(schemes: ["smtp", "smtps"]), "smtp://127.0.0.1:2525"),
        ("smtp.username", .string, nil),
        ("smtp.password", .string, nil),
        ("smtp.from", .email, "gateway@example.test"),
        ("smtp.ca_file", .path, nil),
        // No fixed default: `required` unless the server is on loopback (see `StartTLSSetting.default(for:)`).
        ("smtp.starttls", .choice(StartTLSSetting.allCases.map(\.rawValue)), nil),
        ("smtp.verify_certificates", .bool, "true"),
        ("smtp.timeout", .duration, "30s"),
        ("smtp.connections", .count(max: 16), "4"),
        ("smtp.max_attempts", .positiveInt, "10"),
        ("smtp.retry_initial", .duration, "30s"),
        ("smtp.retry_max", .duration, "30m"),
        ("smtp.bounce_address", .bounceAddress, nil),
        ("notifications.from_name", .string, "Approval Gateway"),
        ("notifications.reminders", .bool, "true"),
        ("notifications.reminder_before", .duration, "4h"),
        ("notifications.sweep_interval", .duration, "30s"),
        ("imap.url", .url(schemes: ["imap", "imaps"]), "imap://127.0.0.1:1143/INBOX"),
        ("imap.username", .string, nil),
        ("imap.password", .string, nil),
        ("imap.ca_file", .path, nil),
        ("imap.starttls", .choice(StartTLSSetting.allCases.map(\.rawValue)), nil),
        ("imap.verify_certificates", .bool, "true"),
        ("imap.processed_folder", .string, "Processed"),
        ("imap.rejected_folder", .string, "Rejected"),
        ("imap.poll_interval", .duration, "5s"),
        ("imap.max_message_bytes", .positiveInt, "10485760"),
        ("imap.timeout", .duration, "60s"),
        ("reply.address", .replyAddress, "gateway+{key}@example.test"),
        ("reply.trusted_authserv_id", .string, nil),
        ("reply.require_authentication", .bool, "true"),
        ("signing.keys_file", .path, nil),
        ("auth.email_links", .bool, "true"),
        ("auth.oidc.issuer", .url(schemes: ["https", "http"]), nil),
        ("auth.oidc.client_id", .string, nil),
        ("auth.oidc.client_secret", .string, nil),
        ("auth.oidc.scopes", .string, "openid email profile"),
        ("auth.oidc.name", .string, nil),
        ("auth.oidc.groups_claim", .string, nil),
        ("auth.oidc.synced_groups", .nameList, nil),
        ("auth.oidc.ca_file", .path, nil),
    ]

    /// Loads the configuration file at `path`, applying environment overrides.
    public static func load(path: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws(ConfigurationError) -> GatewayConfiguration {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigurationError(file: path, problems: [FileProblem.describe(error, path: path, what: "configuration file")])
        }
        let base = URL(fileURLWithPath: path).standardizedFileURL.deletingLastPathComponent().path
        var configuration = try parse(text, file: path, baseDirectory: base, environment: environment)
        configuration.sourceFile = URL(fileURLWithPath: path).standardizedFileURL.path
        return configuration
    }

    /// Parses configuration YAML; relative paths resolve against `baseDirectory`.
    public static func parse(
        _ text: String, file: String, baseDirectory: String, environment: [String: String] = [:]
    ) throws(ConfigurationError) -> GatewayConfiguration {
        var walker = YAMLWalker()
        var values: [String: String] = [:]
        var sources: [String: String] = [:]
        if let root = try YAMLWalker.compose(text, file: file) {
            flatten(root, path: "", into: &values, walker: &walker)
        }
        for key in values.keys { sources[key] = key }
        for (key, _, _) in schema {
            let variable = environmentPrefix + key.uppercased().replacingOccurrences(of: ".", with: "_")
            if let value = environment[variable] {
                values[key] = value
                sources[key] = variable
            }
        }
        var typed: [String: Any] = [:]
        for (key, kind, defaultValue) in schema {
            guard let raw = values[key] ?? defaultValue else { continue }
            let source = sources[key] ?? key
            if let value = convert(raw, kind: kind, baseDirectory: baseDirectory, source: source, walker: &walker) {
                typed[key] = value
            }
        }
        guard walker.problems.isEmpty else { throw ConfigurationError(file: file, problems: walker.problems) }
        func string(_ key: String) -> String? { typed[key] as? String }
        func int(_ key: String) -> Int { typed[key] as! Int }
        func bool(_ key: String) -> Bool { typed[key] as! Bool }
        func tls(_ key: String, url: String) -> StartTLSSetting {
            string(key).flatMap(StartTLSSetting.init(rawValue:)) ?? StartTLSSetting.default(for: url)
        }
        let configuration = GatewayConfiguration(
            database: typed["database"] as! DatabaseLocation,
            directory: string("directory"),
            templates: string("templates"),
            http: HTTPSettings(
                listen: string("http.listen")!, publicURL: string("http.public_url")!,
                trustedProxies: typed["http.trusted_proxies"] as? [IPAddressRange] ?? []
            ),
            smtp: SMTPSettings(
                url: string("smtp.url")!, username: string("smtp.username"), password: string("smtp.password"),
                from: string("smtp.from")!, caFile: string("smtp.ca_file"), startTLS: tls("smtp.starttls", url: string("smtp.url")!),
                verifyCertificates: bool("smtp.verify_certificates"), timeoutSeconds: int("smtp.timeout"),
                connections: int("smtp.connections"), bounceAddress: string("smtp.bounce_address")
            ),
            delivery: DeliverySettings(
                maxAttempts: int("smtp.max_attempts"), retryInitialSeconds: int("smtp.retry_initial"),
                retryMaxSeconds: int("smtp.retry_max")
            ),
            notifications: NotificationSettings(
                fromName: string("notifications.from_name")!, remindersEnabled: bool("notifications.reminders"),
                reminderBeforeSeconds: int("notifications.reminder_before"),
                sweepIntervalSeconds: int("notifications.sweep_interval")
            ),
            imap: IMAPSettings(
                url: string("imap.url")!, username: string("imap.username"), password: string("imap.password"),
                caFile: string("imap.ca_file"), startTLS: tls("imap.starttls", url: string("imap.url")!),
                verifyCertificates: bool("imap.verify_certificates"),
                processedFolder: string("imap.processed_folder")!, rejectedFolder: string("imap.rejected_folder")!,
                pollIntervalSeconds: int("imap.poll_interval"), maxMessageBytes: int("imap.max_message_bytes"),
                timeoutSeconds: int("imap.timeout")
            ),
            reply: ReplySettings(
                address: string("reply.address")!, trustedAuthservID: string("reply.trusted_authserv_id"),
                requireAuthentication: bool("reply.require_authentication")
            ),
            signing: SigningSettings(keysFile: string("signing.keys_file")),
            auth: AuthSettings(emailLinks: bool("auth.email_links"), oidc: nil),
            sourceFile: nil
        )
        var checked = configuration
        checked.auth.oidc = try oidcSettings(typed: typed, values: values, sources: sources, file: file)
        if !checked.auth.emailLinks, checked.auth.oidc == nil {
            throw ConfigurationError(file: file, problems: ["auth.email_links is false but auth.oidc is not configured: nobody could sign in"])
        }
        return checked
    }

    /// `auth.oidc.*`, checked as a whole: the issuer and client id go together, the secret never
    /// comes from the file, HTTP only for a provider on this machine, and `openid` is always asked for.
    private static func oidcSettings(
        typed: [String: Any], values: [String: String], sources: [String: String], file: String
    ) throws(ConfigurationError) -> OIDCSettings? {
        var problems: [String] = []
        if values["auth.oidc.client_secret"] != nil, sources["auth.oidc.client_secret"] == "auth.oidc.client_secret" {
            problems.append("auth.oidc.client_secret must not be in the file: set APPROVAL_GATEWAY_AUTH_OIDC_CLIENT_SECRET in the environment")
        }
        let issuer = typed["auth.oidc.issuer"] as? String
        let clientID = typed["auth.oidc.client_id"] as? String
        let mentioned = values.keys.contains { $0.hasPrefix("auth.oidc.") && $0 != "auth.oidc.scopes" }
        guard problems.isEmpty else { throw ConfigurationError(file: file, problems: problems) }
        guard mentioned else { return nil }
        guard let issuer, let clientID, !clientID.isEmpty else {
            throw ConfigurationError(file: file, problems: ["auth.oidc needs both issuer and client_id (the provider's URL and this gateway's client id there)"])
        }
        if issuer.lowercased().hasPrefix("http://"), !StartTLSSetting.isLoopback(issuer) {
            throw ConfigurationError(file: file, problems: ["auth.oidc.issuer \(issuer) must be https:// (plain http only for a provider on this machine)"])
        }
        var scopes = (typed["auth.oidc.scopes"] as? String ?? "").split(separator: " ").map(String.init)
        if !scopes.contains("openid") { scopes.insert("openid", at: 0) }
        if !scopes.contains("email") { scopes.append("email") }
        let groupsClaim = typed["auth.oidc.groups_claim"] as? String
        let synced = typed["auth.oidc.synced_groups"] as? [String] ?? []
        if !synced.isEmpty, groupsClaim == nil {
            throw ConfigurationError(file: file, problems: ["auth.oidc.synced_groups needs auth.oidc.groups_claim (the ID token claim that lists a person's groups)"])
        }
        return OIDCSettings(
            issuer: issuer, clientID: clientID, clientSecret: typed["auth.oidc.client_secret"] as? String, scopes: scopes,
            name: typed["auth.oidc.name"] as? String ?? URL(string: issuer)?.host ?? issuer,
            groupsClaim: groupsClaim, syncedGroups: synced, caFile: typed["auth.oidc.ca_file"] as? String
        )
    }

    private static func flatten(_ node: Node, path: String, into values: inout [String: String], walker: inout YAMLWalker) {
        let sections = Set(schema.map { $0.key.split(separator: ".").first.map(String.init)! })
        let allowed: Set<String>
        if path.isEmpty {
            allowed = sections
        } else {
            allowed = Set(schema.compactMap { entry -> String? in
                guard entry.key.hasPrefix(path + ".") else { return nil }
                // The next level only: `auth` allows `email_links` and the section `oidc`.
                return entry.key.dropFirst(path.count + 1).split(separator: ".").first.map(String.init)
            })
        }
        guard let fields = walker.mapping(node, path: path, allowedKeys: allowed) else { return }
        for (key, value) in fields {
            let keyPath = path.isEmpty ? key : "\(path).\(key)"
            let isSection = schema.contains { $0.key.hasPrefix(keyPath + ".") }
            if isSection {
                if case .scalar(let scalar) = value, scalar.string.isEmpty || scalar.string == "~" { continue }
                flatten(value, path: keyPath, into: &values, walker: &walker)
            } else if case .scalar(let scalar) = value {
                // An empty or null value means "not set" (the default applies).
                if scalar.string.isEmpty || scalar.string == "~" || scalar.string == "null" { continue }
                values[keyPath] = scalar.string
            } else if case .sequence(let items) = value, [.addressList, .nameList].contains(schema.first(where: { $0.key == keyPath })?.kind) {
                // A list is given as a YAML sequence of scalars, kept comma-separated.
                var texts: [String] = []
                for item in items {
                    guard case .scalar(let scalar) = item else {
                        walker.problem(keyPath, item, "expected a list of single values")
                        continue
                    }
                    texts.append(scalar.string)
                }
                values[keyPath] = texts.joined(separator: ",")
            } else {
                walker.problem(keyPath, value, "expected a single value")
            }
        }
    }

    private static func convert(_ raw: String, kind: Kind, baseDirectory: String, source: String, walker: inout YAMLWalker) -> Any? {
        let value = raw.trimmingCharacters(in: .whitespaces)
        switch kind {
        case .string:
            return value
        case .path:
            if value.hasPrefix("/") { return URL(fileURLWithPath: value).standardizedFileURL.path }
            return URL(fileURLWithPath: baseDirectory).appendingPathComponent(value).standardizedFileURL.path
        case .database:
            do {
                return try DatabaseLocation.parse(value, baseDirectory: baseDirectory)
            } catch {
                walker.problem(source, nil, error.description)
            }
        case .bool:
            if let flag = DirectoryFile.parseBool(value) { return flag }
            walker.problem(source, nil, "must be true or false, not \"\(value)\"")
        case .positiveInt:
            if let number = Int(value), number > 0 { return number }
            walker.problem(source, nil, "must be a positive whole number, not \"\(value)\"")
        case .count(let maximum):
            if let number = Int(value), (1...maximum).contains(number) { return number }
            walker.problem(source, nil, "must be a whole number from 1 to \(maximum), not \"\(value)\"")
        case .duration:
            if let seconds = DurationText.seconds(from: value) { return seconds }
            walker.problem(source, nil, "must be a duration such as 30s, 5m or 1h, not \"\(value)\"")
        case .url(let schemes):
            if let url = URL(string: value), let scheme = url.scheme?.lowercased(), schemes.contains(scheme), url.host?.isEmpty == false {
                return value
            }
            walker.problem(source, nil, "must be a URL starting with \(schemes.map { "\($0)://" }.joined(separator: " or ")), not \"\(value)\"")
        case .choice(let choices):
            if choices.contains(value.lowercased()) { return value.lowercased() }
            walker.problem(source, nil, "must be one of \(choices.joined(separator: ", ")), not \"\(value)\"")
        case .email:
            if EmailAddress.isPlausible(value) { return value }
            walker.problem(source, nil, "must be an email address, not \"\(value)\"")
        case .bounceAddress:
            let sample = value.replacingOccurrences(of: "{id}", with: "1-abc")
            if value.contains("{id}"), EmailAddress.isPlausible(sample) { return value }
            walker.problem(source, nil, "must be an address containing {id}, e.g. gateway+bounce-{id}@example.com, on the gateway's mailbox, not \"\(value)\"")
        case .addressList:
            var ranges: [IPAddressRange] = []
            for part in value.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !part.isEmpty {
                guard let range = IPAddressRange(part) else {
                    walker.problem(source, nil, "\"\(part)\" is not an IP address or CIDR block (e.g. 10.0.0.0/8, 2001:db8::1)")
                    return nil
                }
                ranges.append(range)
            }
            return ranges
        case .nameList:
            return value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        case .replyAddress:
            let sample = value.replacingOccurrences(of: "{key}", with: "k")
            if value.contains("{key}"), EmailAddress.isPlausible(sample) { return value }
            walker.problem(source, nil, "must be an address containing {key}, e.g. gateway+{key}@example.com, not \"\(value)\"")
        }
        return nil
    }

    /// What an operator should hear at start about transport security: STARTTLS that an attacker on
    /// the network could strip, and certificate checks switched off.
    public var transportWarnings: [String] {
        var warnings: [String] = []
        for (name, url, setting, verify) in [("smtp", smtp.url, smtp.startTLS, smtp.verifyCertificates), ("imap", imap.url, imap.startTLS, imap.verifyCertificates)] {
            let implicitTLS = url.lowercased().hasPrefix("smtps://") || url.lowercased().hasPrefix("imaps://")
            let loopback = StartTLSSetting.isLoopback(url)
            if !implicitTLS, !loopback {
                switch setting {
                case .required: break
                case .opportunistic:
                    warnings.append("\(name).starttls is opportunistic for \(url): an attacker on the network can strip STARTTLS and read or change the mail (links, reply keys, passwords); use required")
                case .off:
                    warnings.append("\(name).starttls is off for \(url): mail and passwords cross the network in clear text; use required or \(name)s://")
                }
            }
            if !verify {
                warnings.append("\(name).verify_certificates is false: the \(name.uppercased()) server's certificate is NOT verified")
            }
        }
        return warnings
    }
}
