using System.Diagnostics;
using LlmKit.Diagnostics;
using LlmKit.Models;
using LlmKit.Tokenization;

namespace LlmKit.Generation;

/// <summary>
/// One text generation: a token source (a <see cref="Generator"/>, or a sequence in a shared batch) plus incremental detokenisation, stop-sequence matching,
/// timing and telemetry. Shared by the streaming and non-streaming APIs so both produce the same text.
/// </summary>
internal sealed class TextGenerationRun : IDisposable
{
    private readonly ITokenSource _source;
    private readonly IncrementalDetokenizer _detokenizer;
    private readonly StopSequenceMatcher? _stops;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Activity? _activity;
    private bool _recorded;

    /// <param name="model">The model.</param>
    /// <param name="promptTokens">The prompt's token ids.</param>
    /// <param name="options">Settings; null for the folder's defaults.</param>
    /// <param name="cancellationToken">The request's cancellation: a batched sequence leaves the batch once it is signalled.</param>
    public TextGenerationRun(OnnxGenAIModel model, ReadOnlySpan<int> promptTokens, GenerationOptions? options, CancellationToken cancellationToken)
    {
        _source = model.CreateTokenSource(promptTokens, options, cancellationToken);
        try
        {
            var tokenizer = model.Tokenizer;
            bool promptHasOnlyBos = promptTokens.Length == 1 && promptTokens[0] == tokenizer.BosTokenId;
            _detokenizer = tokenizer.CreateDetokenizer(isSequenceStart: promptHasOnlyBos);
            _stops = _source.Options.StopSequences is { Count: > 0 } stops ? new StopSequenceMatcher(stops) : null;
        }
        catch
        {
            _source.Dispose();
            throw;
        }

        _activity = LlmKitTelemetry.ActivitySource.StartActivity("llmkit.generate");
        _activity?.SetTag("gen_ai.request.model", model.ModelId);
        _activity?.SetTag("gen_ai.usage.input_tokens", promptTokens.Length);
        _activity?.SetTag("llmkit.batched", _source.UsesBatching);
    }

    /// <summary>The generator or batched sequence the tokens come from.</summary>
    public ITokenSource Source => _source;

    public bool IsDone => _source.IsDone;

    public TimeSpan TimeToFirstToken { get; private set; }

    public TimeSpan Elapsed => _clock.Elapsed;

    /// <summary>Waits for (batched) or runs (generator) the next token; pass it to <see cref="Accept"/>.</summary>
    public async ValueTask<int> NextTokenAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await _source.NextAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            Record("cancelled");
            throw;
        }
    }

    /// <summary>Takes the token <see cref="NextTokenAsync"/> returned; returns the text it makes safe to emit (valid until the next call).</summary>
    public ReadOnlySpan<char> Accept(int token)
    {
        if (_source.GeneratedCount == 1)
        {
            TimeToFirstToken = _clock.Elapsed;
            LlmKitTelemetry.TimeToFirstToken.Record(TimeToFirstToken.TotalSeconds);
        }

        ReadOnlySpan<char> text = _detokenizer.Append(token);
        if (_source.IsDone)
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
            _source.Stop(GenerationFinishReason.StopSequence);
        }
        else if (_source.IsDone)
        {
            emit += _stops.Flush();
        }

        FinishIfDone();
        return emit;
    }

    public void Dispose()
    {
        if (!_source.IsDone)
        {
            Record("abandoned");
        }

        _source.Dispose();
        _activity?.Dispose();
    }

    private void FinishIfDone()
    {
        if (_source.IsDone)
        {
            Record(_source.FinishReason!.Value.ToString());
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
        LlmKitTelemetry.InputTokens.Add(_source.PromptLength);
        LlmKitTelemetry.OutputTokens.Add(_source.GeneratedCount);
        LlmKitTelemetry.Generations.Add(1, tag);
        _activity?.SetTag("gen_ai.usage.output_tokens", _source.GeneratedCount);
        _activity?.SetTag("gen_ai.response.finish_reasons", reason);
    }
}
