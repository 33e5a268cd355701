namespace LlmKit.Plugins.Compression.History;

/// <summary>Options shared by the chat-history reducers; bind from <see cref="SectionName"/>.</summary>
public class HistoryReducerOptions
{
    /// <summary>The configuration section these options bind from.</summary>
    public const string SectionName = "LlmKit:Compression:History";

    /// <summary>Token budget of the reduced history, counted in real tokens; in [16, 10,000,000]; default 2,048.</summary>
    public int MaxTokens { get; set; } = 2048;

    /// <summary>Tokens added per message for the chat template's role markers; in [0, 64]; default 4.</summary>
    public int PerMessageOverheadTokens { get; set; } = 4;

    /// <summary>
    /// When a reduction happens, also place a copy of the system instruction just before the latest user message,
    /// so a long dialogue keeps obeying it (the idea behind Llama 2's Ghost Attention); default false.
    /// </summary>
    public bool ReassertInstruction { get; set; }

    /// <summary>
    /// When messages are dropped, insert a short note saying how many and naming the function calls among them,
    /// so nothing (function content especially) disappears silently; default true.
    /// </summary>
    public bool AnnotateOmissions { get; set; } = true;

    /// <summary>Checks the options and throws an exception naming the bad one and its allowed range.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    public virtual void Validate()
    {
        if (MaxTokens is < 16 or > 10_000_000)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxTokens), MaxTokens, "MaxTokens must be in [16, 10000000].");
        }

        if (PerMessageOverheadTokens is < 0 or > 64)
        {
            throw new ArgumentOutOfRangeException(nameof(PerMessageOverheadTokens), PerMessageOverheadTokens, "PerMessageOverheadTokens must be in [0, 64].");
        }
    }
}

/// <summary>Options of <see cref="SummarizingHistoryReducer"/>.</summary>
public sealed class SummarizingHistoryReducerOptions : HistoryReducerOptions
{
    /// <summary>Share of <see cref="HistoryReducerOptions.MaxTokens"/> kept as verbatim recent turns; the rest is summarised; in [0.1, 0.9]; default 0.5.</summary>
    public double RecentShare { get; set; } = 0.5;

    /// <summary>Most tokens the chat service may write for the summary; in [16, 100,000]; default 256.</summary>
    public int SummaryMaxOutputTokens { get; set; } = 256;

    /// <summary>The instruction given to the chat service when summarising.</summary>
    public string SummaryInstruction { get; set; } =
        "Summarize the conversation transcript below in a few sentences for the assistant's own memory. " +
        "Keep every fact, name, number, decision and open question, and the outcome of every function call " +
        "(what was called and what it returned). Do not add anything that is not in the transcript.";

    /// <inheritdoc />
    public override void Validate()
    {
        base.Validate();
        if (!(RecentShare >= 0.1 && RecentShare <= 0.9))
        {
            throw new ArgumentOutOfRangeException(nameof(RecentShare), RecentShare, "RecentShare must be in [0.1, 0.9].");
        }

        if (SummaryMaxOutputTokens is < 16 or > 100_000)
        {
            throw new ArgumentOutOfRangeException(nameof(SummaryMaxOutputTokens), SummaryMaxOutputTokens, "SummaryMaxOutputTokens must be in [16, 100000].");
        }

        if (string.IsNullOrWhiteSpace(SummaryInstruction))
        {
            throw new ArgumentException("SummaryInstruction must not be empty.", nameof(SummaryInstruction));
        }
    }
}

/// <summary>Options of <see cref="CompressingHistoryReducer"/>.</summary>
public sealed class CompressingHistoryReducerOptions : HistoryReducerOptions
{
    /// <summary>Lowest rate older messages are compressed to before whole turns are dropped; in [0.05, 1]; default 0.3.</summary>
    public double MinimumRate { get; set; } = 0.3;

    /// <summary>
    /// Rank each older message's sentences against the newest user message and give the relevant ones more of the
    /// budget (<see cref="PromptCompressionOptions.RankSegments"/> must be on in the compressor); default true.
    /// </summary>
    public bool QuestionAware { get; set; } = true;

    /// <summary>
    /// With <see cref="QuestionAware"/>, when older turns must still be dropped, the share of
    /// <see cref="HistoryReducerOptions.MaxTokens"/> given to the dropped text messages most relevant to the newest user
    /// message (BM25 of its words, score above 0): they stay, compressed and tagged <see cref="HistoryTags.Recalled"/>,
    /// right after the instruction. In [0, 0.9]; default 0.25; 0 turns recall off.
    /// </summary>
    public double RecallShare { get; set; } = 0.25;

    /// <inheritdoc />
    public override void Validate()
    {
        base.Validate();
        if (!(MinimumRate >= 0.05 && MinimumRate <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(MinimumRate), MinimumRate, "MinimumRate must be in [0.05, 1].");
        }

        if (!(RecallShare >= 0 && RecallShare <= 0.9))
        {
            throw new ArgumentOutOfRangeException(nameof(RecallShare), RecallShare, "RecallShare must be in [0, 0.9].");
        }
    }
}
