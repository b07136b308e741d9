import GatewayConfig
import Testing

@Suite struct GatewayConfigurationTests {
    @Test("Defaults point at the embedded database and the loopback mail lab")
    func defaults() throws {
        let configuration = try GatewayConfiguration.parse("", file: "gateway.yaml", baseDirectory: "/srv/gateway/config")
        #expect(configuration.database == "/srv/gateway/config/var/approval-gateway.sqlite")
        #expect(configuration.directory == nil)
        #expect(configuration.smtp.url == "smtp://127.0.0.1:2525")
        #expect(configuration.smtp.verifyCertificates)
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
        #expect(configuration.database == "/srv/gateway/var/g.sqlite")
        #expect(configuration.directory == "/srv/gateway/config/directory.yaml")
        #expect(configuration.smtp.caFile == "/etc/ssl/ca.pem")
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
        ("reply:\n  address: gateway@example.test\n", ["reply.address", "{key}"]),
        ("smtp: [a, b]\n", ["smtp", "mapping"]),
        ("smtp:\n  url: [a]\n", ["smtp.url", "single value"]),
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
        #expect(configuration.database.hasSuffix("var/approval-gateway.sqlite"))
    }
}
