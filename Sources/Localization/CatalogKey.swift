/// Every string a voter or reader sees. Each catalog must hold each key (a test fails otherwise);
/// at run time a missing one falls back to English, never to a blank.
public enum CatalogKey: String, Sendable, CaseIterable {
    // The home page
    case homeTitle = "home.title"
    case homeOpenNow = "home.openNow"
    case homeNoneOpen = "home.noneOpen"
    case homeOpenUntil = "home.openUntil"
    case homeRecentResults = "home.recentResults"
    case homeClosed = "home.closed"
    case homeOpenSurveysPages = "home.openSurveysPages"
    case homeRecentResultsPages = "home.recentResultsPages"
    case pagesPrevious = "pages.previous"
    case pagesNext = "pages.next"
    case pagesPosition = "pages.position"
    // The ballot form
    case formOpenUntil = "form.openUntil"
    case formNotAnswered = "form.notAnswered"
    case formVote = "form.vote"
    case formUnreadable = "form.unreadable"
    case formUnexpectedField = "form.unexpectedField"
    case formAnsweredTwice = "form.answeredTwice"
    case formInvalidChoice = "form.invalidChoice"
    // The results page
    case resultsDates = "results.dates"
    case resultsData = "results.data"
    case resultsNoVotes = "results.noVotes"
    case resultsTableCaption = "results.tableCaption"
    case resultsAnswer = "results.answer"
    case resultsVotes = "results.votes"
    case resultsShare = "results.share"
    case resultsTotal = "results.total"
    case resultsChartOf = "results.chartOf"
    // The thanks page
    case thanksTitle = "thanks.title"
    case thanksBody = "thanks.body"
    case thanksLink = "thanks.link"
    // Error pages
    case backToSurveys = "common.backToSurveys"
    case errorReference = "error.reference"
    case errorAlreadyVotedTitle = "error.alreadyVoted.title"
    case errorAlreadyVoted = "error.alreadyVoted.message"
    case errorAlreadyVotedHere = "error.alreadyVotedHere.message"
    case errorNoSuchSurveyTitle = "error.noSuchSurvey.title"
    case errorNoSuchSurvey = "error.noSuchSurvey.message"
    case errorNotTakingVotesTitle = "error.notTakingVotes.title"
    case errorNotTakingVotes = "error.notTakingVotes.message"
    case errorClosedTitle = "error.closed.title"
    case errorClosed = "error.closed.message"
    case errorSeeResults = "error.seeResults"
    case errorTooLargeTitle = "error.tooLarge.title"
    case errorTooLarge = "error.tooLarge.message"
    case errorUnexpectedTitle = "error.unexpected.title"
    case errorUnexpected = "error.unexpected.message"
    case errorTryAgainTitle = "error.tryAgain.title"
    case errorTryLaterTitle = "error.tryLater.title"
    case errorDatabaseBusy = "error.databaseBusy.message"
    case errorDatabaseUnavailable = "error.databaseUnavailable.message"
    case errorChartsBusy = "error.chartsBusy.message"
    case errorChartStorage = "error.chartStorage.message"
    case errorOverloaded = "error.overloaded.message"
    case errorMethodNotAllowedTitle = "error.methodNotAllowed.title"
    case errorMethodNotAllowed = "error.methodNotAllowed.message"
    case errorPageNotFoundTitle = "error.pageNotFound.title"
    case errorPageNotFound = "error.pageNotFound.message"
    case errorBadRequestTitle = "error.badRequest.title"
    case errorBadRequest = "error.badRequest.message"
    case errorBallotRefusedTitle = "error.ballotRefused.title"
    case errorBallotRefused = "error.ballotRefused.message"
    case errorBadPageTitle = "error.badPage.title"
    case errorBadPage = "error.badPage.message"
    case errorBadPageNumber = "error.badPageNumber.message"
    // Chart text
    case chartFigures = "chart.figures"
    case chartNoVotes = "chart.noVotes"
    case chartLessThan = "chart.lessThan"
    case chartAltEntry = "chart.altEntry"
    case chartAltNoVotes = "chart.altNoVotes"
    case listSeparator = "list.separator"
    /// Between a label and its value ("Winner: Comedy"; Chinese "获胜答案：喜剧").
    case labelSeparator = "common.labelSeparator"
}

/// Strings with a number in them, one form per CLDR plural category of the language.
public enum PluralKey: String, Sendable, CaseIterable {
    /// "{count} votes" (legend figures).
    case votes = "votes"
    /// "Winner" / "Winners", by the number of winners.
    case winners = "results.winners"
    /// "No survey closed in the last {count} days."
    case noneRecent = "home.noneRecent"
    /// "Please answer this question too:", by the number left unanswered.
    case answerThese = "form.answerThese"
}
