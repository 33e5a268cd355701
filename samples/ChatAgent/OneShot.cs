using System.Diagnostics;
using LlmKit.Chat;
using LlmKit.Models;
using Microsoft.Extensions.AI;

namespace ChatAgent;

/// <summary>--prompt mode: the generated text alone on stdout (so scripts can capture it), statistics on stderr.</summary>
internal static class OneShot
{
    public static async Task<int> RunAsync(ChatAgentSettings settings, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        using var model = ModelStartup.Load(settings.ModelPath, message => error.WriteLine($"chatagent: {message}"));
        var client = new OnnxChatClient(model, new OnnxChatClientOptions { ChatTemplate = settings.EffectiveTemplate, DefaultGeneration = settings.Generation });

        var messages = new List<ChatMessage>();
        if (settings.System is not null)
        {
            messages.Add(new ChatMessage(ChatRole.System, settings.System));
        }

        messages.Add(new ChatMessage(ChatRole.User, settings.Prompt));
        var stats = new ResponseStats();
        await foreach (var update in client.GetStreamingResponseAsync(messages, cancellationToken: cancellationToken))
        {
            stats.Observe(update);
            await output.WriteAsync(update.Text);
            await output.FlushAsync(cancellationToken);
        }

        await error.WriteLineAsync();
        await error.WriteLineAsync($"chatagent: {model.ModelId} ({client.Template.Kind} template), loaded in {model.LoadTime.TotalMilliseconds:F0} ms; {stats}");
        return 0;
    }
}

/// <summary>Token counts and speeds of one streamed answer.</summary>
internal sealed class ResponseStats
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private TimeSpan? _firstToken;

    public long InputTokens { get; private set; }

    /// <summary>Prompt tokens whose KV cache the model reused from the previous turn.</summary>
    public long CachedInputTokens { get; private set; }

    public TimeSpan FirstToken => _firstToken ?? TimeSpan.Zero;

    public long OutputTokens { get; private set; }

    public string FinishReason { get; private set; } = "?";

    public TimeSpan Elapsed { get; private set; }

    public double TokensPerSecond
    {
        get
        {
            var decode = Elapsed - (_firstToken ?? TimeSpan.Zero);
            return OutputTokens > 1 && decode > TimeSpan.Zero ? (OutputTokens - 1) / decode.TotalSeconds : 0;
        }
    }

    public void Observe(ChatResponseUpdate update)
    {
        _firstToken ??= _clock.Elapsed;
        Elapsed = _clock.Elapsed;
        foreach (var usage in update.Contents.OfType<UsageContent>())
        {
            InputTokens = usage.Details.InputTokenCount ?? 0;
            CachedInputTokens = usage.Details.CachedInputTokenCount ?? 0;
            OutputTokens = usage.Details.OutputTokenCount ?? 0;
        }

        if (update.FinishReason is { } reason)
        {
            FinishReason = reason.Value;
        }
    }

    public override string ToString() =>
        $"{InputTokens} prompt tokens, {OutputTokens} new tokens in {Elapsed.TotalMilliseconds:F0} ms, " +
        $"first token after {(_firstToken ?? TimeSpan.Zero).TotalMilliseconds:F0} ms, {TokensPerSecond:F1} tok/s, finish {FinishReason}";
}
