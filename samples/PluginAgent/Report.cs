using System.Globalization;
using LlmKit.Plugins.Moderation;
using Spectre.Console;

namespace PluginAgent;

/// <summary>
/// Prints results as plain <c>key: name=value ...</c> lines (stable, machine-checkable; written straight to the
/// writer so no console width ever wraps them) under Spectre.Console section rules.
/// </summary>
internal sealed class Report(TextWriter output)
{
    private readonly TextWriter _output = output ?? throw new ArgumentNullException(nameof(output));

    public void Section(string title)
    {
        _output.Flush();
        AnsiConsole.Write(new Rule($"[bold]{Markup.Escape(title)}[/]").LeftJustified());
    }

    public void Line(FormattableString line) => _output.WriteLine(FormattableString.Invariant(line));

    public void Startup(Agent agent)
    {
        var s = agent.Startup;
        Line($"model: id={agent.Model.ModelId} max_length={agent.Model.MaxLength} load_ms={s.ModelLoadTime.TotalMilliseconds:F0}");
        Embeddings(agent);
        Line($"moderation: ready domain=\"{AgentData.Domain}\" in_domain_examples={AgentData.InDomainExamples.Count} off_domain_examples={AgentData.OffDomainExamples.Count} warmup_ms={s.ModerationWarmUpTime.TotalMilliseconds:F0}");
        Line($"few-shot: pool={s.ExamplePoolSize} count={Agent.ExampleCount} budget_tokens={Agent.ExampleTokenBudget}");
        Compression(agent);
        Line($"ordinal: trained rows={s.SentimentRows} labels={s.SentimentLabels} ms={s.SentimentTrainTime.TotalMilliseconds:F0} scale={string.Join('|', AgentData.SentimentScale)}");
    }

    public void Embeddings(Agent agent)
    {
        var s = agent.Startup;
        Line($"embeddings: model={s.EmbeddingModel} dimensions={s.EmbeddingDimensions} load_ms={s.EmbeddingLoadTime.TotalMilliseconds:F0}");
    }

    public void Compression(Agent agent)
    {
        var c = agent.Startup.Context;
        Line($"compression: original_tokens={c.OriginalTokens} compressed_tokens={c.CompressedTokens} ratio={c.Ratio:F3} target_rate={Agent.CompressionRate:F2} segments={c.SegmentsScored} ms={c.Elapsed.TotalMilliseconds:F0}");
    }

    public void Turn(AgentTurn turn)
    {
        if (turn.Blocked is { } blocked)
        {
            Moderation(blocked, turn.Generations);
            Line($"answer: {OneLine(turn.Answer)}");
            return;
        }

        Line($"moderation: allowed generations={turn.Generations}");
        Examples(turn);
        Rating(turn.Rating!, turn.Input);
        Line($"answer: prompt_tokens={turn.PromptTokens} ms={turn.Elapsed.TotalMilliseconds:F0} text=\"{OneLine(turn.Answer)}\"");
    }

    public void Moderation(ModerationResult blocked, long generations) =>
        Line($"moderation: blocked category={Category(blocked.Category)} path={blocked.DecidedBy} score={blocked.Score:F3} threshold={blocked.Threshold:F3} generations={generations}");

    public void Examples(AgentTurn turn)
    {
        Line($"few-shot: selected={turn.Examples.Count}");
        for (int i = 0; i < turn.Examples.Count; i++)
        {
            var e = turn.Examples[i];
            Line($"few-shot: example={i + 1} score={e.Score:F3} label={e.Example.Label} input=\"{OneLine(e.Example.Input)}\"");
        }
    }

    public void Rating(SentimentRating rating, string text) =>
        Line($"ordinal: label=\"{rating.Label}\" rank={rating.Rank} expected_rank={rating.ExpectedRank:F2} text=\"{OneLine(text)}\"");

    public static string Category(ModerationCategory category) => category switch
    {
        ModerationCategory.OffDomain => "off_domain",
        ModerationCategory.Injection => "injection",
        _ => "allowed",
    };

    private static string OneLine(string text) => text.ReplaceLineEndings(" ").Trim();
}
