using System.Text.RegularExpressions;

namespace LlmKit.Plugins.Compression;

/// <summary>Options of <see cref="PromptCompressor"/>; bind them from the configuration section <see cref="SectionName"/>.</summary>
/// <remarks>Treat an instance as read-only once it is handed to a compressor; the compressor copies what it needs.</remarks>
public sealed class PromptCompressionOptions
{
    /// <summary>The configuration section these options bind from.</summary>
    public const string SectionName = "LlmKit:Compression";

    /// <summary>
    /// Role and chat-template markers kept by <see cref="KeepRoleMarkers"/>: "User:"-style speaker labels at a line start,
    /// SK's <c>&lt;message role="…"&gt;</c> tags, ChatML/Llama special tokens written as text, and Llama 2's [INST]/&lt;&lt;SYS&gt;&gt;.
    /// </summary>
    public static IReadOnlyList<string> RoleMarkerPatterns { get; } =
    [
        @"(?im)^[ \t]*(?:system|user|assistant|tool|function|human|ai|bot|narrator|q|a)[ \t]*:",
        @"</?message\b[^>]*>",
        @"<\|[^|<>\s]{1,40}\|>",
        @"\[/?INST\]|<</?SYS>>",
    ];

    /// <summary>Default rate for callers that do not pass a target (the plugin, the render filter). In (0, 1]; default 0.5.</summary>
    public double DefaultRate { get; set; } = 0.5;

    /// <summary>Tokens scored per scorer call in the token-level pass; in [4, 4096]; default 200 (LLMLingua's iterative size).</summary>
    public int SegmentTokens { get; set; } = 200;

    /// <summary>
    /// Most tokens of the already-compressed prefix used as conditioning for each segment (also bounded by the
    /// scorer's context window); in [0, 1,000,000]; default 128. Each scorer call re-reads this prefix, so smaller
    /// is faster (cost ≈ prompt tokens + calls × this) and larger sees further back.
    /// </summary>
    public int MaxConditioningTokens { get; set; } = 128;

    /// <summary>
    /// Keep or drop whole words (consecutive letter/digit tokens) ranked by their mean self-information, instead of
    /// single tokens; default true. With small subword vocabularies this keeps the compressed text readable.
    /// </summary>
    public bool PruneWholeWords { get; set; } = true;

    /// <summary>Strings that must survive verbatim (ordinal match).</summary>
    public IList<string> ForceKeepStrings { get; } = [];

    /// <summary>Regular expressions whose matches must survive verbatim.</summary>
    public IList<string> ForceKeepPatterns { get; } = [];

    /// <summary>Keep every number with its internal separators (19:00, 3.5, 2024-05-01, 1,200); default true.</summary>
    public bool KeepDigits { get; set; } = true;

    /// <summary>Keep speaker-role and chat-template markers (see <see cref="RoleMarkerPatterns"/>); default true.</summary>
    public bool KeepRoleMarkers { get; set; } = true;

    /// <summary>Keep line breaks so the prompt keeps its line structure; default true.</summary>
    public bool KeepLineStructure { get; set; } = true;

    /// <summary>Allow the instruction part to be pruned; default false (kept verbatim).</summary>
    public bool CompressInstruction { get; set; }

    /// <summary>Allow the question part to be pruned; default false (kept verbatim).</summary>
    public bool CompressQuestion { get; set; }

    /// <summary>Rank contexts against the question and drop low-ranked ones whole before token pruning; default true.</summary>
    public bool RankContexts { get; set; } = true;

    /// <summary>
    /// How many times the context budget the coarse stage keeps before token pruning, in [1, 10]; default 2.
    /// 1 drops contexts down to the budget (no token pruning needed); larger leaves more for the finer pass.
    /// </summary>
    public double CoarseContextRetention { get; set; } = 2.0;

    /// <summary>
    /// Question-aware coarse-to-fine mode: when the prompt has a question (or <see cref="PromptParts.Query"/>) and a
    /// rate or token target, split the contexts into segments (sentences and lines), rank them by relevance to the
    /// question (<see cref="SegmentRanking"/>), drop the lowest-ranked ones whole, give the higher-ranked ones a larger
    /// share of the budget, then prune tokens within them; default true.
    /// </summary>
    public bool RankSegments { get; set; } = true;

    /// <summary>How segments are ranked against the question; default <see cref="SegmentRanking.Auto"/>.</summary>
    public SegmentRanking SegmentRanking { get; set; } = SegmentRanking.Auto;

    /// <summary>
    /// How many times the context budget the segment stage keeps (in rank order) before token pruning, in [1, 10];
    /// default 1.5. 1 keeps only what fits the budget (no pruning within segments); larger leaves the finer pass
    /// more to choose from and costs more scorer calls.
    /// </summary>
    public double SegmentRetention { get; set; } = 1.5;

    /// <summary>
    /// Share of the context budget given to the top-ranked segments whole, in [0, 1]; default 0.5. Segments are taken
    /// in rank order while their tokens fit this share (the first one whenever it fits the whole budget) and are kept
    /// before anything else; the other retained segments are pruned, the lower-ranked ones harder.
    /// </summary>
    public double TopSegmentShare { get; set; } = 0.5;

    /// <summary>Longest segment in characters; longer sentences or lines are cut at a space; in [16, 100,000]; default 400.</summary>
    public int MaxSegmentCharacters { get; set; } = 400;

    /// <summary>
    /// Keep simple named entities: capitalised words (two or more characters) that do not start a sentence or a line;
    /// default false (the rule also catches ordinary capitalised words such as titles).
    /// </summary>
    public bool KeepNamedEntities { get; set; }

    /// <summary>Checks every option and throws an exception naming the bad one and its allowed range.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A numeric option is out of range.</exception>
    /// <exception cref="ArgumentException">A force-keep pattern is not a valid regular expression, or a force-keep string is empty.</exception>
    public void Validate()
    {
        if (!(DefaultRate > 0 && DefaultRate <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(DefaultRate), DefaultRate, "DefaultRate must be in (0, 1].");
        }

        if (SegmentTokens is < 4 or > 4096)
        {
            throw new ArgumentOutOfRangeException(nameof(SegmentTokens), SegmentTokens, "SegmentTokens must be in [4, 4096].");
        }

        if (MaxConditioningTokens is < 0 or > 1_000_000)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxConditioningTokens), MaxConditioningTokens, "MaxConditioningTokens must be in [0, 1000000].");
        }

        if (!(CoarseContextRetention >= 1 && CoarseContextRetention <= 10))
        {
            throw new ArgumentOutOfRangeException(nameof(CoarseContextRetention), CoarseContextRetention, "CoarseContextRetention must be in [1, 10].");
        }

        if (!(SegmentRetention >= 1 && SegmentRetention <= 10))
        {
            throw new ArgumentOutOfRangeException(nameof(SegmentRetention), SegmentRetention, "SegmentRetention must be in [1, 10].");
        }

        if (!(TopSegmentShare >= 0 && TopSegmentShare <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(TopSegmentShare), TopSegmentShare, "TopSegmentShare must be in [0, 1].");
        }

        if (MaxSegmentCharacters is < 16 or > 100_000)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxSegmentCharacters), MaxSegmentCharacters, "MaxSegmentCharacters must be in [16, 100000].");
        }

        if (!Enum.IsDefined(SegmentRanking))
        {
            throw new ArgumentOutOfRangeException(nameof(SegmentRanking), SegmentRanking, "SegmentRanking must be Auto, LogProbability, Bm25, Embedding or LogProbabilityAndBm25.");
        }

        foreach (string value in ForceKeepStrings)
        {
            if (string.IsNullOrEmpty(value))
            {
                throw new ArgumentException("ForceKeepStrings must not contain null or empty strings.", nameof(ForceKeepStrings));
            }
        }

        foreach (string pattern in ForceKeepPatterns)
        {
            try
            {
                _ = new Regex(pattern, RegexOptions.None, TimeSpan.FromSeconds(1));
            }
            catch (ArgumentException ex)
            {
                throw new ArgumentException($"ForceKeepPatterns contains an invalid regular expression '{pattern}': {ex.Message}", nameof(ForceKeepPatterns), ex);
            }
        }
    }

    /// <summary>A copy with the same settings (lists copied too).</summary>
    public PromptCompressionOptions Clone()
    {
        var copy = new PromptCompressionOptions
        {
            DefaultRate = DefaultRate,
            SegmentTokens = SegmentTokens,
            MaxConditioningTokens = MaxConditioningTokens,
            KeepDigits = KeepDigits,
            KeepRoleMarkers = KeepRoleMarkers,
            KeepLineStructure = KeepLineStructure,
            CompressInstruction = CompressInstruction,
            CompressQuestion = CompressQuestion,
            RankContexts = RankContexts,
            PruneWholeWords = PruneWholeWords,
            CoarseContextRetention = CoarseContextRetention,
            RankSegments = RankSegments,
            SegmentRanking = SegmentRanking,
            SegmentRetention = SegmentRetention,
            TopSegmentShare = TopSegmentShare,
            MaxSegmentCharacters = MaxSegmentCharacters,
            KeepNamedEntities = KeepNamedEntities,
        };
        foreach (string value in ForceKeepStrings)
        {
            copy.ForceKeepStrings.Add(value);
        }

        foreach (string pattern in ForceKeepPatterns)
        {
            copy.ForceKeepPatterns.Add(pattern);
        }

        return copy;
    }
}
