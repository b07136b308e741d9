import Foundation
import Testing
@testable import MailMessage

/// Golden files from the benchmark corpus: one message per client style, structure, charset,
/// transfer encoding and category (`Fixtures/corpus`). The expected values were produced by the
/// reference implementation (Python `email` + `grammar.py`), not by this module.
@Suite("Corpus golden files")
struct CorpusGoldenTests {
    static let names = Fixtures.names(in: "corpus")

    @Test("fixtures are present")
    func fixturesPresent() {
        #expect(Self.names.count >= 40)
    }

    @Test("decoded body matches the reference decoder", arguments: names)
    func body(name: String) throws {
        let gold = try Fixtures.json("corpus", name)
        let message = try MailMessage(parsing: try Fixtures.bytes("corpus", name))
        let body = try #require(message.bodyText())
        #expect(body.isHTML == (gold["isHTML"] as? Bool))
        let expected = try #require(gold["bodyText"] as? String)
        let isFlowed = message.bodyPart()?.contentType.parameter("format") == "flowed"
        if isFlowed {
            // format=flowed is unflowed here and not by the reference: compare without wrapping.
            #expect(collapsed(body.text) == collapsed(expected))
        } else {
            #expect(body.text == expected)
        }
    }

    @Test("command, comment and reply text match the reference grammar", arguments: names)
    func decision(name: String) throws {
        let gold = try Fixtures.json("corpus", name)
        let message = try MailMessage(parsing: try Fixtures.bytes("corpus", name))
        let d = ReplyDecision(message: message)
        #expect(d.command.rawValue == gold["command"] as? String)
        #expect(d.comment == gold["comment"] as? String)
        let automated = gold["automated"] as? Bool ?? false
        if automated {
            guard case .automated = d.noCommandReason else {
                Issue.record("expected an automated-mail reason, got \(String(describing: d.noCommandReason))")
                return
            }
        } else {
            #expect(d.replyText == gold["reply"] as? String)
        }
    }
}

/// Charsets beyond the corpus (`Fixtures/charsets`): each message's body must decode exactly as
/// Python's codecs decode it, and the command must be read.
@Suite("Charsets")
struct CharsetFixtureTests {
    static let names = Fixtures.names(in: "charsets")

    @Test("all the charsets mail uses are covered")
    func coverage() {
        for cs in ["koi8-r", "iso-8859-2", "windows-1250", "iso-8859-15", "windows-1252", "iso-8859-1", "gb2312", "gbk",
                   "big5", "euc-jp", "iso-2022-jp", "shift_jis", "utf-8", "us-ascii"] {
            #expect(Self.names.contains(cs), "missing fixture for \(cs)")
        }
    }

    @Test("body decodes like the reference", arguments: names)
    func decode(name: String) throws {
        let gold = try Fixtures.json("charsets", name)
        let message = try MailMessage(parsing: try Fixtures.bytes("charsets", name))
        #expect(message.bodyText()?.text == gold["bodyText"] as? String)
        let d = ReplyDecision(message: message)
        #expect(d.command == .approve)
        #expect(d.comment == gold["comment"] as? String)
    }
}
