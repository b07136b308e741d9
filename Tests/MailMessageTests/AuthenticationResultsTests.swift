import Testing
@testable import MailMessage

/// REPLY-3: only the topmost Authentication-Results of the trusted server counts.
@Suite struct AuthenticationResultsTests {
    /// The receiving server's own stamp of the SMTP hop.
    static let smtpStamp = "Received: from client.example.test (unknown [192.0.2.1])\r\n\tby mail.example.test (Postfix) with ESMTP id 4F9F0F78069\r\n\tfor <gateway@example.test>; Sun, 29 Nov 2026 13:00:32 +0000 (UTC)"

    /// `fields` as the receiving server leaves them: directly above its SMTP `Received:` stamp.
    func headers(_ fields: [String], stamped: Bool = true) throws -> HeaderFields {
        try MailMessage(parsing: (fields + (stamped ? [Self.smtpStamp] : []) + ["From: a@example.test", "", "body"]).joined(separator: "\r\n")).headers
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

    @Test("REPLY-3: only the field the receiving server wrote counts: topmost, directly above its SMTP Received: stamp", arguments: [
        Case(name: "as delivered: LMTP trace above, SMTP stamp below", fields: [
            "Return-Path: <approver1@example.test>", "Delivered-To: gateway+k@example.test",
            "Received: from mail.example.test ([127.0.0.1])\r\n\tby mail.example.test with LMTP id Gtu0\r\n\tfor <gateway+k@example.test>; Sun, 29 Nov 2026 13:00:32 +0000",
            "Authentication-Results: mail.example.test; dmarc=pass header.from=example.test", smtpStamp,
        ], passes: true),
        Case(name: "the server stamped nothing: a forged field below its SMTP stamp", fields: [
            "Delivered-To: gateway+k@example.test", smtpStamp,
            "Authentication-Results: mail.example.test; dmarc=pass header.from=example.test",
            "Received: from evil.test by mail.example.test (Postfix) with ESMTP id FAKE; Sun, 29 Nov 2026 13:00:00 +0000",
        ], passes: false),
        Case(name: "a forged field with a forged stamp under the real one", fields: [
            smtpStamp, "Authentication-Results: mail.example.test; dmarc=pass header.from=example.test", smtpStamp,
        ], passes: false),
        Case(name: "not directly above a Received:", fields: [
            "Authentication-Results: mail.example.test; dmarc=pass header.from=example.test", "Subject: hi", smtpStamp,
        ], passes: false),
        Case(name: "above an LMTP Received: only", fields: [
            "Authentication-Results: mail.example.test; dmarc=pass header.from=example.test",
            "Received: from x by mail.example.test with LMTP id 1; Sun, 29 Nov 2026 13:00:32 +0000",
        ], passes: false),
        Case(name: "another field above it", fields: [
            "X-Spam: yes", "Authentication-Results: mail.example.test; dmarc=pass header.from=example.test", smtpStamp,
        ], passes: false),
    ])
    func placement(_ testCase: Case) throws {
        let verdict = SenderAuthentication.evaluate(try headers(testCase.fields, stamped: false), trustedAuthservID: "mail.example.test", fromDomain: "example.test")
        #expect(verdict.isPass == testCase.passes, "\(verdict)")
    }
}
