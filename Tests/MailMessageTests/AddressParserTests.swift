import Testing
@testable import MailMessage

@Suite("Address parser")
struct AddressParserTests {
    @Test("valid forms", arguments: [
        ("alice@example.com", nil, "alice@example.com"),
        ("Alice Example <alice@example.com>", "Alice Example", "alice@example.com"),
        ("\"O'Neil, Carol\" <carol.oneil@example.org>", "O'Neil, Carol", "carol.oneil@example.org"),
        ("=?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <j@firma.example.de>", "Jürgen Müller", "j@firma.example.de"),
        ("John Q. Public <jqp@example.com>", "John Q. Public", "jqp@example.com"),
        ("<bare@example.com>", nil, "bare@example.com"),
        ("Ünïcødé Näme <user@example.com>", "Ünïcødé Näme", "user@example.com"),
        ("用户 <用户@例子.广告>", "用户", "用户@例子.广告"),
    ] as [(String, String?, String)])
    func valid(input: String, name: String?, address: String) throws {
        let m = try AddressParser.parseSingleMailbox(input)
        #expect(m.displayName == name)
        #expect(m.address == address)
    }

    @Test("lists and groups")
    func listsAndGroups() throws {
        let list = try AddressParser.parseList("a@x.com, B <b@y.com>,, Team: c@z.com, \"D\" <d@z.com>;, undisclosed-recipients:;")
        #expect(list.count == 4)
        #expect(list.flatMap(\.mailboxes).map(\.address) == ["a@x.com", "b@y.com", "c@z.com", "d@z.com"])
        guard case .group(let name, let members) = list[2] else { Issue.record("expected a group"); return }
        #expect(name == "Team")
        #expect(members.count == 2)
    }

    @Test("syntax errors are errors, not guesses (TEST-2)", arguments: [
        "a@b@c.com",                        // multiple @
        "<a@b.com>c@d.com",                 // trailing address after angle-addr
        "\"<a@b.com>\"c@d.com",             // quoted <a@b> glued to another address
        "alice",                            // no @
        "alice@",                           // no domain
        "@example.com",                     // no local part
        "Alice <alice@example.com",         // unterminated angle
        "Alice (comment <a@b.com>",         // unterminated comment
        "\"unterminated <a@b.com>",
        "a b@c.com",                        // space in local part
        "a@b..com",
        ".a@b.com",
        "a@b.com.",
        "Group: a@b.com",                   // unterminated group
        "a@b.com\u{0}x",
        "",
        "   ",
    ])
    func errors(input: String) {
        #expect(throws: AddressParseError.self) { try AddressParser.parseList(input) }
    }
}

/// REPLY-5 and TEST-2: the author of a reply is determined without guessing.
@Suite("Sender verification (REPLY-5, TEST-2)")
struct SenderVerificationTests {
    func author(_ headerLines: String) throws -> Result<Mailbox, SenderRejection> {
        let m = try parse(headerLines + "\n\nApprove\n")
        return SenderVerification.authenticatedAuthor(of: m)
    }

    @Test("REPLY-5: one plain From mailbox is accepted", arguments: [
        "From: alice@example.com",
        "From: Alice Example <Alice@Example.com>",
        "From: =?utf-8?q?J=C3=BCrgen?= <juergen@example.de>",
        "From: \"Smith, Bob\" <bob@example.com>\nSender: BOB@example.com",
    ])
    func accepted(headers: String) throws {
        let r = try author(headers)
        guard case .success(let m) = r else { Issue.record("rejected: \(r)"); return }
        #expect(m.normalizedAddress.hasSuffix("example.com") || m.normalizedAddress.hasSuffix("example.de"))
    }

    @Test("REPLY-5 / TEST-2: ambiguous authors are rejected", arguments: [
        ("From: alice@example.com\nFrom: mallory@evil.example", SenderRejection.Kind.multipleFromFields),
        ("From: alice@example.com, mallory@evil.example", .multipleMailboxes),
        ("From: Team: alice@example.com;", .group),
        ("From: alice@example.com (Alice)", .comment),
        ("From: Alice (the boss) <alice@example.com>", .comment),
        ("From: <alice(x)@example.com>", .comment),
        ("From: =?utf-8?q?a=40b?=c@host.example", .encodedWordInAddress),
        ("From: <=?utf-8?q?alice?=@example.com>", .encodedWordInAddress),
        ("From: alice@=?utf-8?q?example.com?=", .encodedWordInAddress),
        ("From: \"<alice@example.com>\"@evil.example", .quotedLocalPart),
        ("From: \"alice\"@example.com", .quotedLocalPart),
        ("From: alice@[192.0.2.1]", .domainLiteral),
        ("From: <@relay.example:alice@example.com>", .sourceRoute),
        ("From: a@b@c.example", .unparseable),
        ("From: <a@b.example>c@d.example", .unparseable),
        ("From: alice@example.com\nSender: mallory@evil.example", .senderDiffersFromFrom),
        ("From: alice@example.com\nSender: alice@example.com\nSender: bob@example.com", .multipleSenderFields),
        ("To: alice@example.com", .missingFrom),
        ("From:", .unparseable),
    ] as [(String, SenderRejection.Kind)])
    func rejected(headers: String, kind: SenderRejection.Kind) throws {
        let r = try author(headers)
        guard case .failure(let e) = r else { Issue.record("accepted: \(r)"); return }
        #expect(e.kind == kind)
    }

    @Test("TEST-2: a display name that looks like an address does not change the addr-spec")
    func displayNameSpoof() throws {
        let r = try author("From: \"alice@example.com\" <mallory@evil.example>")
        guard case .success(let m) = r else { Issue.record("rejected"); return }
        #expect(m.normalizedAddress == "mallory@evil.example")
    }

    @Test("REPLY-5: invalid UTF-8 in From is rejected")
    func invalidUTF8() throws {
        var bytes = Array("From: al".utf8) + [0xFF, 0xFE] + Array("ice@example.com\r\n\r\nApprove\r\n".utf8)
        bytes.append(0x0A)
        let m = try MailMessage(parsing: bytes)
        guard case .failure(let e) = SenderVerification.authenticatedAuthor(of: m) else { Issue.record("accepted"); return }
        #expect(e.kind == .unparseable)
    }
}
