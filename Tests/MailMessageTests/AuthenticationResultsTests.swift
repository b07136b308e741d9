import Testing
@testable import MailMessage

/// REPLY-3: only the topmost Authentication-Results of the trusted server counts.
@Suite struct AuthenticationResultsTests {
    func headers(_ fields: [String]) throws -> HeaderFields {
        try MailMessage(parsing: (fields + ["From: a@example.test", "", "body"]).joined(separator: "\r\n")).headers
    }

    @Test("Parses authserv-id, methods, results and properties; comments and quoting are handled")
    func parses() throws {
        let results = try #require(AuthenticationResults("""
            mx.google.com (version 1); dkim=pass (2048-bit key) header.i=@example.com header.s=s1 header.b="Ab/c"; \
            spf=pass (google.com: domain of a@example.com designates 1.2.3.4) smtp.mailfrom=a@example.com; \
            dmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=example.com
            """))
        #expect(results.authservID == "mx.google.com")
        #expect(results.results.map(\.method) == ["dkim", "spf", "dmarc"])
        #expect(results.results.map(\.result) == ["pass", "pass", "pass"])
        #expect(results.results(for: "dmarc").first?.properties["header.from"] == "example.com")
        #expect(results.results(for: "dkim").first?.properties["header.i"] == "@example.com")
        #expect(AuthenticationResults("mail.example.test 1; none")?.results.isEmpty == true)
        #expect(AuthenticationResults("   ") == nil)
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var fields: [String]
        var passes: Bool
        var testDescription: String { name }
    }

    @Test("REPLY-3 verdicts", arguments: [
        Case(name: "dmarc=pass from the trusted server", fields: ["Authentication-Results: mail.example.test; dmarc=pass header.from=example.test"], passes: true),
        Case(name: "aligned dkim=pass without dmarc", fields: ["Authentication-Results: mail.example.test; dkim=pass header.d=example.test"], passes: true),
        Case(name: "aligned dkim=pass from a subdomain signer", fields: ["Authentication-Results: mail.example.test; dkim=pass header.d=mail.example.test"], passes: true),
        Case(name: "dkim=pass for another domain", fields: ["Authentication-Results: mail.example.test; dkim=pass header.d=evil.test"], passes: false),
        Case(name: "dkim=pass by a bare top-level domain", fields: ["Authentication-Results: mail.example.test; dkim=pass header.d=test"], passes: false),
        Case(name: "dmarc=fail even with aligned dkim=pass", fields: ["Authentication-Results: mail.example.test; dkim=pass header.d=example.test; dmarc=fail"], passes: false),
        Case(name: "dmarc=pass for another From domain", fields: ["Authentication-Results: mail.example.test; dmarc=pass header.from=evil.test"], passes: false),
        Case(name: "only a foreign server says pass", fields: ["Authentication-Results: mx.evil.test; dmarc=pass header.from=example.test"], passes: false),
        Case(name: "foreign pass above ours saying fail", fields: [
            "Authentication-Results: mx.evil.test; dmarc=pass header.from=example.test",
            "Authentication-Results: mail.example.test; dmarc=fail header.from=example.test",
        ], passes: false),
        Case(name: "ours saying fail above a forged one of ours saying pass", fields: [
            "Authentication-Results: mail.example.test; dmarc=fail header.from=example.test",
            "Authentication-Results: mail.example.test; dmarc=pass header.from=example.test",
        ], passes: false),
        Case(name: "case-insensitive authserv-id and results", fields: ["Authentication-Results: MAIL.Example.TEST; DMARC=Pass header.from=Example.test"], passes: true),
        Case(name: "no Authentication-Results at all", fields: [], passes: false),
        Case(name: "none", fields: ["Authentication-Results: mail.example.test; spf=none; dkim=none; dmarc=none"], passes: false),
        Case(name: "a comment that looks like a pass", fields: ["Authentication-Results: mail.example.test; dmarc=fail (would be dmarc=pass) header.from=example.test"], passes: false),
    ])
    func verdicts(_ testCase: Case) throws {
        let verdict = SenderAuthentication.evaluate(try headers(testCase.fields), trustedAuthservID: "mail.example.test", fromDomain: "example.test")
        #expect(verdict.isPass == testCase.passes, "\(verdict)")
    }
}
