import Foundation
import Testing

@testable import Localization

/// Every catalog against English, the oracle: keys, placeholders, and the plural forms ICU's
/// CLDR rules ask for.
@Suite("Catalogs", .timeLimit(.minutes(2)))
struct CatalogTests {
    static let languages = Catalogs.all.map(\.tag.description)

    @Test func theShippedLanguagesAreAllThere() {
        #expect(
            Set(Self.languages)
                == ["en", "zh-Hans", "zh-Hant", "ja", "ko", "ar", "he", "es", "fr", "de", "pt-BR", "ru"])
        for (file, catalog) in zip(Catalogs.files, Catalogs.all) {
            #expect(file.name == "\(catalog.tag).json", "a catalog's language names its file")
            #expect(!catalog.name.isEmpty)
        }
    }

    @Test(arguments: Catalogs.all.map(\.tag.description))
    func holdsEveryKeyAndNoOther(_ language: String) throws {
        let catalog = try #require(Catalogs.all.first { $0.tag.description == language })
        for key in CatalogKey.allCases {
            #expect(catalog.holds(key), "\(language) lacks \(key.rawValue)")
            #expect(!catalog.text(key).trimmingCharacters(in: .whitespaces).isEmpty || key == .listSeparator)
        }
        for key in PluralKey.allCases {
            #expect(!catalog.forms(key).isEmpty, "\(language) lacks plural \(key.rawValue)")
        }
        #expect(catalog.unknownKeys.isEmpty, "\(language) holds keys no code asks for: \(catalog.unknownKeys)")
    }

    @Test(arguments: Catalogs.all.map(\.tag.description))
    func placeholdersMatchEnglish(_ language: String) throws {
        let catalog = try #require(Catalogs.all.first { $0.tag.description == language })
        for key in CatalogKey.allCases where catalog.holds(key) {
            #expect(
                catalog.text(key).placeholders.sorted() == Catalogs.english.text(key).placeholders.sorted(),
                "\(language) \(key.rawValue): \(catalog.text(key))")
        }
        for key in PluralKey.allCases {
            let english = Set(Catalogs.english.forms(key).values.flatMap(\.placeholders))
            for (category, form) in catalog.forms(key) {
                #expect(
                    Set(form.placeholders).isSubset(of: english),
                    "\(language) \(key.rawValue).\(category) names a placeholder English does not: \(form)")
            }
            // A count that the sentence is about is always written, whatever the form.
            if key == .votes {
                for (category, form) in catalog.forms(key) {
                    #expect(form.placeholders == ["count"], "\(language) votes.\(category) must write {count}: \(form)")
                }
            }
        }
    }

    /// Each count gets a form of its own CLDR category, never a fallback to `other` or to English.
    @Test(arguments: Catalogs.all.map(\.tag.description))
    func pluralsCoverWhatTheRulesSelect(_ language: String) throws {
        let catalog = try #require(Catalogs.all.first { $0.tag.description == language })
        let counts = [0, 1, 2, 3, 11, 100] + Array(4...110) + [1_000, 1_000_000]
        let selected = Set(counts.map(catalog.pluralCategory))
        for key in PluralKey.allCases {
            let forms = catalog.forms(key)
            for category in selected {
                #expect(forms[category] != nil, "\(language) \(key.rawValue) lacks the \(category) form")
            }
            // `other` may stand for fractions, which ICU selects but no count here is.
            #expect(
                Set(forms.keys).isSubset(of: selected.union([.other])),
                "\(language) \(key.rawValue) has forms ICU never selects")
        }
    }

    /// Every plural form, rendered for the counts the issue names: no placeholder left, and a
    /// form that stands for more than one count writes the count.
    @Test(arguments: Catalogs.all.map(\.tag.description))
    func pluralsRenderForTheCountsPeopleSee(_ language: String) throws {
        let catalog = try #require(Catalogs.all.first { $0.tag.description == language })
        let localizer = Localizer(catalog: catalog)
        let counts = [0, 1, 2, 3, 11, 100]
        for key in PluralKey.allCases {
            for count in counts {
                let text = localizer.plural(key, count: count)
                #expect(!text.contains("{") && !text.isEmpty, "\(language) \(key.rawValue) for \(count): \(text)")
            }
            guard Catalogs.english.forms(key).values.contains(where: { $0.contains("{count}") }) else { continue }
            // Two counts of one category share its form; then the form must say which count it is.
            let byCategory = Dictionary(grouping: Array(0...200), by: catalog.pluralCategory)
            for (category, members) in byCategory where members.count > 1 {
                let form = try #require(catalog.forms(key)[category] ?? catalog.forms(key)[.other])
                #expect(
                    form.contains("{count}"), "\(language) \(key.rawValue).\(category) covers \(members.prefix(3))…")
            }
        }
    }

    /// A few of CLDR's rules, written out: the ICU in the toolchain must agree.
    @Test func icuAgreesWithCLDRsTables() throws {
        func categories(_ tag: String, _ counts: [Int]) throws -> [PluralCategory] {
            let catalog = try #require(Catalogs.catalog(for: try LanguageTag(parsing: tag)))
            return counts.map(catalog.pluralCategory)
        }
        #expect(try categories("fr", [0, 1, 2]) == [.one, .one, .other])
        #expect(try categories("pt-BR", [0, 1, 2]) == [.one, .one, .other])
        #expect(try categories("de", [0, 1, 2]) == [.other, .one, .other])
        #expect(
            try categories("ru", [0, 1, 2, 4, 5, 11, 21, 101, 111]) == [
                .many, .one, .few, .few, .many, .many, .one, .one, .many,
            ])
        #expect(
            try categories("ar", [0, 1, 2, 3, 10, 11, 99, 100, 102]) == [
                .zero, .one, .two, .few, .few, .many, .many, .other, .other,
            ])
        #expect(try categories("he", [1, 2, 3]) == [.one, .two, .other])
        #expect(try categories("ja", [0, 1, 2]) == [.other, .other, .other])
    }

    @Test func arabicHasSixFormsAndRussianFour() throws {
        let arabic = try #require(Catalogs.catalog(for: try LanguageTag(parsing: "ar")))
        #expect([0, 1, 2, 3, 11, 100].map(arabic.pluralCategory) == [.zero, .one, .two, .few, .many, .other])
        let russian = try #require(Catalogs.catalog(for: try LanguageTag(parsing: "ru")))
        #expect([1, 2, 5, 21, 22, 11].map(russian.pluralCategory) == [.one, .few, .many, .one, .few, .many])
        let english = Catalogs.english
        #expect([0, 1, 2].map(english.pluralCategory) == [.other, .one, .other])
        let localizer = Localizer(try LanguageTag(parsing: "ar-EG"))
        #expect(localizer.plural(.votes, count: 2).contains("٢"))
        #expect(Localizer.english.plural(.votes, count: 1) == "1 vote")
        #expect(Localizer.english.plural(.votes, count: 1234) == "1,234 votes")
    }

    @Test func aMissingKeyFallsBackToEnglishNeverToABlank() throws {
        let english = Catalogs.english
        let bare = try Catalog(
            json: Array(#"{"language": "fr", "name": "F", "strings": {}, "plurals": {}}"#.utf8), file: "x.json",
            fallback: english)
        #expect(bare.text(.resultsTotal) == "Total")
        #expect(bare.plural(.votes, count: 3) == "{count} votes")
        #expect(throws: CatalogError.self) {
            try Catalog(
                json: Array(
                    #"{"language": "fr", "name": "F", "strings": {}, "plurals": {"votes": {"plenty": "x"}}}"#.utf8),
                file: "x.json", fallback: english)
        }
    }

    @Test func fillingIsOnePass() {
        #expect("{a} and {b}".filling(["a": "{b}", "b": "x"]) == "{b} and x")
        #expect("{missing} {a".filling(["a": "1"]) == "{missing} {a")
        #expect("“{title}”".placeholders == ["title"])
    }
}

@Suite("Language tags and negotiation", .timeLimit(.minutes(2)))
struct LanguageTagTests {
    @Test func parsesStrictlyAndCanonically() throws {
        #expect(try LanguageTag(parsing: "ZH-hant-tw").description == "zh-Hant-TW")
        #expect(try LanguageTag(parsing: "pt-br").description == "pt-BR")
        #expect(try LanguageTag(parsing: "es-419").description == "es-419")
        #expect(try LanguageTag(parsing: "iw").description == "he")
        for bad in [
            "", "e", "english", "en-", "-en", "en--US", "en-US-x-private", "zh-Hans-Hant", "en-US-GB", "ä", "en_US",
            "en-u-nu-arab", String(repeating: "a", count: 200),
        ] {
            #expect(throws: LanguageTagError.self, "\(bad)") { try LanguageTag(parsing: bad) }
        }
    }

    @Test func directionsComeFromICU() throws {
        #expect(try LanguageTag(parsing: "ar-EG").isRightToLeft)
        #expect(try LanguageTag(parsing: "he").isRightToLeft)
        #expect(try !LanguageTag(parsing: "zh-Hans").isRightToLeft)
        #expect(try !LanguageTag(parsing: "en").isRightToLeft)
    }

    @Test func catalogsMatchByLanguageAndScript() throws {
        func match(_ tag: String) throws -> String? {
            Catalogs.catalog(for: try LanguageTag(parsing: tag))?.tag.description
        }
        #expect(try match("zh-TW") == "zh-Hant")
        #expect(try match("zh-HK") == "zh-Hant")
        #expect(try match("zh-CN") == "zh-Hans")
        #expect(try match("zh") == "zh-Hans")
        #expect(try match("pt-PT") == "pt-BR")
        #expect(try match("ar-EG") == "ar")
        #expect(try match("en-GB") == "en")
        #expect(try match("sw") == nil)
        #expect(try match("sr-Latn") == nil)
    }

    @Test func acceptLanguageNegotiation() {
        let english = Catalogs.english
        func chosen(_ header: String?) -> String {
            Catalogs.negotiate(acceptLanguage: header, fallback: english).tag.description
        }
        #expect(chosen("fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7, *;q=0.5") == "fr")
        #expect(chosen("da, en-GB;q=0.8, en;q=0.7") == "en")
        #expect(chosen("en;q=0.5, ja") == "ja")
        #expect(chosen("zh-TW,zh;q=0.9") == "zh-Hant")
        #expect(chosen("de;q=0, fr;q=0.1") == "fr")
        #expect(chosen("ar-EG;q=1.000") == "ar")
        #expect(chosen("de;q=1.5, he;q=0.2") == "he", "a quality above 1 makes its range unreadable")
        #expect(chosen("sw, *") == "en")
        #expect(chosen(nil) == "en")
        #expect(chosen(";;;,,,q=,\u{0}") == "en")
        // The memo never keeps one caller's fallback for another.
        #expect(Catalogs.negotiate(acceptLanguage: "tlh", fallback: english) === english)
        #expect(Catalogs.negotiate(acceptLanguage: "tlh", fallback: Catalogs.all[5]) === Catalogs.all[5])
        #expect(Catalogs.negotiate(acceptLanguage: "tlh", fallback: english) === english)
        #expect(AcceptLanguage.ranges(String(repeating: "fr,", count: 2000)).isEmpty)
        #expect(AcceptLanguage.ranges(Array(repeating: "de", count: 100).joined(separator: ",")).count == 16)
    }
}

@Suite("Locale formats", .timeLimit(.minutes(2)))
struct LocaleFormatterTests {
    @Test func datesNumbersAndPercentagesFollowTheLocale() throws {
        func formatter(_ tag: String) throws -> LocaleFormatter { LocaleFormatter(try LanguageTag(parsing: tag)) }
        #expect(try formatter("fr").date(year: 2026, month: 11, day: 30) == "30 novembre 2026")
        #expect(try formatter("zh-Hans").date(year: 2026, month: 11, day: 30) == "2026年11月30日")
        #expect(try formatter("en").date(year: 2026, month: 11, day: 30) == "November 30, 2026")
        #expect(try formatter("en").date(year: 2026, month: 2, day: 30) == nil)
        #expect(try formatter("ar-EG").percent(44).contains("٤٤"))
        #expect(try formatter("ar-EG").number(1234) == "١٬٢٣٤")
        #expect(try formatter("de").number(1_234_567) == "1.234.567")
        #expect(try formatter("en").percent(44) == "44%")
        #expect(try formatter("en").percent(250) == "100%")
        #expect(try formatter("en").compact(1234) == "1.2K")
    }
}
