import Foundation
import GatewayConfig
import Testing

@Suite struct GatewayConfigurationTests {
    @Test("Defaults point at the embedded database and the loopback mail lab")
    func defaults() throws {
        let configuration = try GatewayConfiguration.parse("", file: "gateway.yaml", baseDirectory: "/srv/gateway/config")
        #expect(configuration.database == .sqlite(path: "/srv/gateway/config/var/approval-gateway.sqlite"))
        #expect(configuration.directory == nil)
        #expect(configuration.smtp.url == "smtp://127.0.0.1:2525")
        #expect(configuration.smtp.verifyCertificates)
        #expect(configuration.smtp.connections == 4)
        #expect(try GatewayConfiguration.parse("smtp:\n  connections: 1\n", file: "gateway.yaml", baseDirectory: "/").smtp.connections == 1)
        #expect(configuration.imap.pollIntervalSeconds == 5)
        #expect(configuration.imap.processedFolder == "Processed")
        #expect(configuration.reply.requireAuthentication)
    }

    @Test("STARTTLS defaults to required for every server that is not on loopback; weaker settings are warned about")
    func transportSecurityDefaults() throws {
        let remote = try GatewayConfiguration.parse(
            "smtp:\n  url: smtp://mail.example.com:587\nimap:\n  url: imap://imap.example.com/INBOX\n", file: "gateway.yaml", baseDirectory: "/"
        )
        #expect(remote.smtp.startTLS == .required && remote.imap.startTLS == .required)
        #expect(remote.transportWarnings.isEmpty)
        let loopback = try GatewayConfiguration.parse("smtp:\n  url: smtp://localhost:2525\n", file: "gateway.yaml", baseDirectory: "/")
        #expect(loopback.smtp.startTLS == .opportunistic && loopback.imap.startTLS == .opportunistic)
        #expect(loopback.transportWarnings.isEmpty)
        let weak = try GatewayConfiguration.parse(
            "smtp:\n  url: smtp://mail.example.com:25\n  starttls: opportunistic\nimap:\n  url: imap://imap.example.com/INBOX\n  starttls: off\n  verify_certificates: false\n",
            file: "gateway.yaml", baseDirectory: "/"
        )
        #expect(weak.smtp.startTLS == .opportunistic && weak.imap.startTLS == .off)
        #expect(weak.transportWarnings.count == 3)
        #expect(weak.transportWarnings.contains { $0.hasPrefix("smtp.starttls is opportunistic for smtp://mail.example.com:25") })
        #expect(weak.transportWarnings.contains { $0.hasPrefix("imap.starttls is off") })
        #expect(weak.transportWarnings.contains { $0.hasPrefix("imap.verify_certificates is false") })
        let implicit = try GatewayConfiguration.parse("smtp:\n  url: smtps://mail.example.com:465\n", file: "gateway.yaml", baseDirectory: "/")
        #expect(implicit.transportWarnings.isEmpty)
    }

    @Test("http.trusted_proxies takes a list or a comma-separated value, and names a bad entry")
    func trustedProxies() throws {
        let list = try GatewayConfiguration.parse("http:\n  trusted_proxies: [10.0.0.0/8, \"2001:db8::1\"]\n", file: "gateway.yaml", baseDirectory: "/")
        #expect(list.http.trustedProxies.map(\.description) == ["10.0.0.0/8", "2001:db8::1"])
        let commas = try GatewayConfiguration.parse("http:\n  trusted_proxies: 127.0.0.1, 192.168.0.0/16\n", file: "gateway.yaml", baseDirectory: "/")
        #expect(commas.http.trustedProxies.count == 2)
        #expect(try GatewayConfiguration.parse("", file: "gateway.yaml", baseDirectory: "/").http.trustedProxies.isEmpty)
        #expect {
            _ = try GatewayConfiguration.parse("http:\n  trusted_proxies: [10.0.0.0/8, proxy.example]\n", file: "gateway.yaml", baseDirectory: "/")
        } throws: { "\($0)".contains("http.trusted_proxies") && "\($0)".contains("proxy.example") }
    }

    @Test("Relative paths resolve against the configuration file's directory")
    func relativePaths() throws {
        let configuration = try GatewayConfiguration.parse(
            "database: ../var/g.sqlite\ndirectory: directory.yaml\nsmtp:\n  ca_file: /etc/ssl/ca.pem\n",
            file: "gateway.yaml", baseDirectory: "/srv/gateway/config"
        )
        #expect(configuration.database == .sqlite(path: "/srv/gateway/var/g.sqlite"))
        #expect(configuration.directory == "/srv/gateway/config/directory.yaml")
        #expect(configuration.smtp.caFile == "/etc/ssl/ca.pem")
    }

    @Test("database takes a PostgreSQL URL (libpq form) as well as a file path")
    func postgresDatabase() throws {
        let configuration = try GatewayConfiguration.parse(
            "database: postgresql://gateway@db.internal:5433/approvals?sslmode=verify-full&sslrootcert=/etc/ssl/db-ca.pem&pool=20\n",
            file: "gateway.yaml", baseDirectory: "/"
        )
        guard case .postgres(let url) = configuration.database else {
            Issue.record("expected a PostgreSQL location, got \(configuration.database)")
            return
        }
        #expect(url.user == "gateway" && url.host == "db.internal" && url.port == 5433 && url.database == "approvals")
        #expect(url.sslMode == .verifyFull && url.sslRootCertificate == "/etc/ssl/db-ca.pem" && url.poolSize == 20)
        #expect(try PostgresURL(url.description) == url)
        let defaults = try PostgresURL("postgres://gateway@[::1]/approvals")
        #expect(defaults.host == "::1" && defaults.port == 5432 && defaults.sslMode == .prefer && defaults.poolSize == PostgresURL.defaultPoolSize)
        #expect(PostgresURL.defaultPoolSize == max(4, 2 * ProcessInfo.processInfo.activeProcessorCount))
        #expect(try PostgresURL(defaults.description) == defaults)
        let fromEnvironment = try GatewayConfiguration.parse(
            "", file: "gateway.yaml", baseDirectory: "/", environment: ["APPROVAL_GATEWAY_DATABASE": "postgres://gw@10.0.0.5/a"]
        )
        #expect(fromEnvironment.database == .postgres(try PostgresURL("postgres://gw@10.0.0.5/a")))
    }

    @Test("Environment variables override keys, which is how secrets are given")
    func environmentOverrides() throws {
        let configuration = try GatewayConfiguration.parse(
            "smtp:\n  password: from-file\n  url: smtp://mail.example.com:587\n",
            file: "gateway.yaml", baseDirectory: "/",
            environment: ["APPROVAL_GATEWAY_SMTP_PASSWORD": "from-env", "APPROVAL_GATEWAY_IMAP_POLL_INTERVAL": "30s"]
        )
        #expect(configuration.smtp.password == "from-env")
        #expect(configuration.smtp.url == "smtp://mail.example.com:587")
        #expect(configuration.imap.pollIntervalSeconds == 30)
    }

    @Test("Unknown keys and bad values are errors naming the key", arguments: [
        ("smtp:\n  hostname: x\n", ["smtp.hostname", "unknown key"]),
        ("databse: x.sqlite\n", ["databse", "unknown key"]),
        ("smtp:\n  starttls: maybe\n", ["smtp.starttls", "required, opportunistic, off"]),
        ("imap:\n  url: http://x/INBOX\n", ["imap.url", "imap://"]),
        ("imap:\n  poll_interval: often\n", ["imap.poll_interval", "duration"]),
        ("imap:\n  max_message_bytes: -1\n", ["imap.max_message_bytes"]),
        ("smtp:\n  verify_certificates: perhaps\n", ["smtp.verify_certificates", "true or false"]),
        ("smtp:\n  connections: 0\n", ["smtp.connections", "from 1 to 16"]),
        ("smtp:\n  connections: 17\n", ["smtp.connections", "from 1 to 16"]),
        ("reply:\n  address: gateway@example.test\n", ["reply.address", "{key}"]),
        ("smtp: [a, b]\n", ["smtp", "mapping"]),
        ("smtp:\n  url: [a]\n", ["smtp.url", "single value"]),
        ("database: postgres://gateway:hunter2@db/approvals\n", ["database", "must not contain a password", "APPROVAL_GATEWAY_DATABASE_PASSWORD"]),
        ("database: postgres://gateway@db/approvals?sslmode=maybe\n", ["database", "sslmode", "verify-full"]),
        ("database: postgres://db/approvals\n", ["database", "needs a user"]),
        ("database: postgres://gateway@db/\n", ["database", "database name"]),
        ("database: postgres://gateway@db/a?pool=0\n", ["database", "pool"]),
        ("database: postgres://gateway@db/a?sslrootcert=/ca.pem\n", ["database", "verify-full"]),
        ("database: mysql://gateway@db/a\n", ["database", "postgres:// URL"]),
    ])
    func refusesBadConfiguration(yaml: String, mentions: [String]) {
        #expect {
            _ = try GatewayConfiguration.parse(yaml, file: "gateway.yaml", baseDirectory: "/")
        } throws: { error in
            let message = "\(error)"
            return mentions.allSatisfy(message.contains)
        }
    }

    @Test("A bad environment override names the variable")
    func badEnvironmentOverride() {
        #expect {
            _ = try GatewayConfiguration.parse("", file: "gateway.yaml", baseDirectory: "/", environment: ["APPROVAL_GATEWAY_SMTP_TIMEOUT": "forever"])
        } throws: { error in
            "\(error)".contains("APPROVAL_GATEWAY_SMTP_TIMEOUT")
        }
    }

    @Test("The shipped configuration is valid and uses the demo directory")
    func shippedConfiguration() throws {
        let path = #filePath.replacingOccurrences(of: "Tests/GatewayConfigTests/GatewayConfigurationTests.swift", with: "config/gateway.yaml")
        let configuration = try GatewayConfiguration.load(path: path, environment: [:])
        #expect(configuration.directory?.hasSuffix("config/directory.yaml") == true)
        #expect(configuration.database.description.hasSuffix("var/approval-gateway.sqlite"))
    }
}
