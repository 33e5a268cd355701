using System.Diagnostics;
using LlmKit.Diagnostics;
using LlmKit.Models;
using LlmKit.Tokenization;

namespace LlmKit.Generation;

/// <summary>
/// One text generation: a <see cref="Generator"/> plus incremental detokenisation, stop-sequence matching,
/// timing and telemetry. Shared by the streaming and non-streaming APIs so both produce the same text.
/// </summary>
internal sealed class TextGenerationRun : IDisposable
{
    private readonly Generator _generator;
    private readonly IncrementalDetokenizer _detokenizer;
    private readonly StopSequenceMatcher? _stops;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Activity? _activity;
    private bool _recorded;

    public TextGenerationRun(OnnxGenAIModel model, ReadOnlySpan<int> promptTokens, GenerationOptions? options)
    {
        _generator = model.CreateGenerator(promptTokens, options);
        var tokenizer = model.Tokenizer;
        bool promptHasOnlyBos = promptTokens.Length == 1 && promptTokens[0] == tokenizer.BosTokenId;
        _detokenizer = tokenizer.CreateDetokenizer(isSequenceStart: promptHasOnlyBos);
        _stops = _generator.Options.StopSequences is { Count: > 0 } stops ? new StopSequenceMatcher(stops) : null;
        _activity = LlmKitTelemetry.ActivitySource.StartActivity("llmkit.generate");
        _activity?.SetTag("gen_ai.request.model", model.ModelId);
        _activity?.SetTag("gen_ai.usage.input_tokens", promptTokens.Length);
    }

    public Generator Generator => _generator;

    public bool IsDone => _generator.IsDone;

    public TimeSpan TimeToFirstToken { get; private set; }

    public TimeSpan Elapsed => _clock.Elapsed;

    /// <summary>Generates one token; returns the text it makes safe to emit (valid until the next call).</summary>
    public ReadOnlySpan<char> Step(CancellationToken cancellationToken, out int token)
    {
        try
        {
            token = _generator.GenerateNextToken(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            Record("cancelled");
            throw;
        }

        if (_generator.GeneratedCount == 1)
        {
            TimeToFirstToken = _clock.Elapsed;
            LlmKitTelemetry.TimeToFirstToken.Record(TimeToFirstToken.TotalSeconds);
        }

        ReadOnlySpan<char> text = _detokenizer.Append(token);
        if (_generator.IsDone)
        {
            // Flush bytes held for an incomplete character: nothing more is coming.
            text = string.Concat(text, _detokenizer.Flush());
        }

        if (_stops is null)
        {
            FinishIfDone();
            return text;
        }

        string emit = _stops.Push(text);
        if (_stops.Stopped)
        {
            _generator.Stop(GenerationFinishReason.StopSequence);
        }
        else if (_generator.IsDone)
        {
            emit += _stops.Flush();
        }

        FinishIfDone();
        return emit;
    }

    public void Dispose()
    {
        if (!_generator.IsDone)
        {
            Record("abandoned");
        }

        _generator.Dispose();
        _activity?.Dispose();
    }

    private void FinishIfDone()
    {
        if (_generator.IsDone)
        {
            Record(_generator.FinishReason!.Value.ToString());
        }
    }

    private void Record(string reason)
    {
        if (_recorded)
        {
            return;
        }

        _recorded = true;
        var tag = new KeyValuePair<string, object?>("finish_reason", reason);
        LlmKitTelemetry.InputTokens.Add(_generator.PromptLength);
        LlmKitTelemetry.OutputTokens.Add(_generator.GeneratedCount);
        LlmKitTelemetry.Generations.Add(1, tag);
        _activity?.SetTag("gen_ai.usage.output_tokens", _generator.GeneratedCount);
        _activity?.SetTag("gen_ai.response.finish_reasons", reason);
    }
}
