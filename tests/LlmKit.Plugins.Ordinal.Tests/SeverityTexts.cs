namespace LlmKit.Plugins.Ordinal.Tests;

/// <summary>
/// A small hand-written severity corpus for text-level tests: each rank has its own cue phrases, combined with
/// service names and sentence frames. The held-out services never appear in training, so a test on them checks
/// that the classifier rates by the severity cues rather than by memorising whole sentences. With a lexical
/// (hashing) embedding that is all it can learn: a cue word never seen in training is not rated meaningfully.
/// </summary>
internal static class SeverityTexts
{
    public static readonly string[] Labels = ["none", "minor", "moderate", "major", "critical"];

    private static readonly string[][] Cues =
    [
        ["works fine", "no problems at all", "all good", "running normally"],
        ["a small typo", "a slight delay", "a cosmetic glitch", "a minor annoyance"],
        ["noticeably slow responses", "some errors", "intermittent failures", "degraded performance"],
        ["frequent crashes", "most requests failing", "missing data for many users", "severely degraded service"],
        ["a complete outage", "everything down", "data loss for all customers", "a security breach"],
    ];

    private static readonly string[] Services =
    [
        "the checkout page", "our login service", "the mobile app", "the billing job",
        "the search index", "the email sender", "the admin dashboard", "the payment api",
    ];

    private static readonly string[] Frames =
    [
        "{0} reports {1}",
        "Users say {0} shows {1}",
        "Status update for {0}: {1}.",
        "Ticket: {1} on {0}",
    ];

    /// <summary>All (text, rank) pairs for the given services.</summary>
    public static IEnumerable<(string Text, int Rank)> For(Range services)
    {
        var (offset, length) = services.GetOffsetAndLength(Services.Length);
        for (int rank = 0; rank < Cues.Length; rank++)
        {
            foreach (var cue in Cues[rank])
            {
                for (int s = offset; s < offset + length; s++)
                {
                    foreach (var frame in Frames)
                    {
                        yield return (string.Format(System.Globalization.CultureInfo.InvariantCulture, frame, Services[s], cue), rank);
                    }
                }
            }
        }
    }

    /// <summary>Training split: the first six services.</summary>
    public static IEnumerable<(string Text, int Rank)> Train => For(..6);

    /// <summary>Held-out split: the last two services.</summary>
    public static IEnumerable<(string Text, int Rank)> HeldOut => For(6..);
}
