using System.Diagnostics;
using LlmKit.Diagnostics;
using LlmKit.Generation;
using LlmKit.Generation.Constraints;
using LlmKit.Tokenization;
using Microsoft.ML.OnnxRuntimeGenAI;
using Generator = Microsoft.ML.OnnxRuntimeGenAI.Generator;

namespace LlmKit.OnnxRuntimeGenAI;

/// <summary>
/// One generation on onnxruntime-genai: its <see cref="Generator"/> picks the tokens (search, sampling, penalties and
/// <c>min_length</c> as the official runtime does them); LlmKit's incremental detokenizer and stop-sequence matcher make the
/// text, so both engines produce text the same way. Telemetry goes to LlmKit's own activity source and meter
/// (<see cref="LlmKitTelemetry"/>), tagged <c>llmkit.engine</c> = <c>onnxruntime-genai</c>. Not thread-safe: one run per request.
/// </summary>
internal sealed class OgaGenerationRun : IDisposable
{
    private readonly int[] _prompt;
    private readonly GeneratorParams _params;
    private readonly Generator _generator;
    private readonly IncrementalDetokenizer _detokenizer;
    private readonly StopSequenceMatcher? _stops;
    private readonly IReadOnlyList<int> _eos;
    private readonly List<int> _generated = [];
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly int _maxNewTokens;
    private readonly bool _limitedByContext;
    private readonly Activity? _activity;
    private readonly OutputConstraint? _constraint;
    private bool _prefilled;
    private bool _recorded;
    private int _sequenceLength;

    public OgaGenerationRun(OnnxRuntimeGenAIEngine engine, int[] prompt, GenerationOptions resolved)
    {
        PromptLength = prompt.Length;
        int requested = resolved.MaxNewTokens ?? int.MaxValue;
        int room = engine.MaxLength - prompt.Length;
        _maxNewTokens = Math.Min(requested, room);
        _limitedByContext = room < requested;
        _prompt = prompt;
        _constraint = resolved.Constraint;
        _eos = engine.Tokenizer.EosTokenIds;
        _params = new GeneratorParams(engine.NativeModel);
        try
        {
            engine.ApplySearchOptions(_params, resolved, prompt.Length, prompt.Length + _maxNewTokens);
            OnnxRuntimeGenAIEngine.ApplyConstraint(_params, resolved);
            _generator = CreateGenerator(engine, _params, resolved);
            engine.Activate(_generator, resolved);
        }
        catch
        {
            _generator?.Dispose();
            _params.Dispose();
            throw;
        }

        var tokenizer = engine.Tokenizer;
        _detokenizer = tokenizer.CreateDetokenizer(isSequenceStart: prompt.Length == 1 && prompt[0] == tokenizer.BosTokenId);
        _stops = resolved.StopSequences is { Count: > 0 } stops ? new StopSequenceMatcher(stops) : null;
        _activity = LlmKitTelemetry.ActivitySource.StartActivity("llmkit.generate");
        _activity?.SetTag("gen_ai.request.model", engine.ModelId);
        _activity?.SetTag("gen_ai.usage.input_tokens", prompt.Length);
        _activity?.SetTag(EngineTag.Key, EngineTag.Value);
    }

    // The guidance grammar and its tokenizer are built with the generator: their errors name the constraint.
    private static Generator CreateGenerator(OnnxRuntimeGenAIEngine engine, GeneratorParams parameters, GenerationOptions resolved)
    {
        try
        {
            return new Generator(engine.NativeModel, parameters);
        }
        catch (OnnxRuntimeGenAIException ex) when (resolved.Constraint is not null)
        {
            throw new NotSupportedException(
                $"Constraint ({resolved.Constraint.Description}): onnxruntime-genai's guidance backend could not start on '{engine.Folder}' (it reads the folder's tokenizer.json): {ex.Message}", ex);
        }
    }

    /// <summary>The tag that tells this engine's telemetry from LlmKit's own.</summary>
    public static KeyValuePair<string, object?> EngineTag { get; } = new("llmkit.engine", "onnxruntime-genai");

    public int PromptLength { get; }

    public IReadOnlyList<int> GeneratedTokens => _generated;

    public GenerationFinishReason? FinishReason { get; private set; }

    public bool IsDone => FinishReason is not null;

    public TimeSpan TimeToFirstToken { get; private set; }

    public TimeSpan Elapsed => _clock.Elapsed;

    /// <summary>Generates one token (the first call also prefills the prompt); returns the text it makes safe to emit.</summary>
    public string Step(CancellationToken cancellationToken, out int token)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            Record("cancelled");
            cancellationToken.ThrowIfCancellationRequested();
        }

        if (!_prefilled)
        {
            _generator.AppendTokens(_prompt);
            _sequenceLength = _prompt.Length;
            _prefilled = true;
            if (cancellationToken.IsCancellationRequested)
            {
                Record("cancelled");
                cancellationToken.ThrowIfCancellationRequested();
            }
        }

        GenerateNextToken();
        var sequence = _generator.GetSequence(0);
        bool grew = sequence.Length > _sequenceLength;
        if (grew)
        {
            token = sequence[^1];
            _sequenceLength = sequence.Length;
        }
        else
        {
            // onnxruntime-genai picks an end-of-sequence token but leaves it out of the sequence.
            var next = _generator.GetNextTokens();
            token = next.Length > 0 ? next[0] : (_eos.Count > 0 ? _eos[0] : -1);
        }

        _generated.Add(token);
        if (_generated.Count == 1)
        {
            TimeToFirstToken = _clock.Elapsed;
            LlmKitTelemetry.TimeToFirstToken.Record(TimeToFirstToken.TotalSeconds, EngineTag);
        }

        bool eos = !grew || IsEos(token);
        if (eos)
        {
            FinishReason = GenerationFinishReason.EndOfSequence;
        }
        else if (_generated.Count >= _maxNewTokens || _generator.IsDone())
        {
            FinishReason = _limitedByContext && _generated.Count >= _maxNewTokens ? GenerationFinishReason.ContextLength : GenerationFinishReason.MaxNewTokens;
        }

        string text = eos ? "" : _detokenizer.Append(token).ToString();
        if (IsDone)
        {
            // Flush bytes held for an incomplete character: nothing more is coming.
            text += _detokenizer.Flush().ToString();
        }

        if (_stops is null)
        {
            return text;
        }

        string emit = _stops.Push(text);
        if (_stops.Stopped)
        {
            FinishReason = GenerationFinishReason.StopSequence;
        }
        else if (IsDone)
        {
            emit += _stops.Flush();
        }

        return emit;
    }

    // llguidance reports a failed step with its whole parser state; keep its first line and name the constraint.
    private void GenerateNextToken()
    {
        try
        {
            _generator.GenerateNextToken();
        }
        catch (OnnxRuntimeGenAIException ex) when (_constraint is not null)
        {
            string reason = ex.Message.Split('\n', 2)[0].Trim();
            throw new InvalidOperationException(
                $"Constraint ({_constraint.Description}): onnxruntime-genai's guidance backend failed at generated token {_generated.Count + 1}: {reason}", ex);
        }
    }

    public void Dispose()
    {
        Record(FinishReason?.ToString() ?? "abandoned");
        _generator.Dispose();
        _params.Dispose();
        _activity?.Dispose();
    }

    private void Record(string reason)
    {
        if (_recorded)
        {
            return;
        }

        _recorded = true;
        LlmKitTelemetry.InputTokens.Add(PromptLength, EngineTag);
        LlmKitTelemetry.OutputTokens.Add(_generated.Count, EngineTag);
        LlmKitTelemetry.Generations.Add(1, new KeyValuePair<string, object?>("finish_reason", reason), EngineTag);
        _activity?.SetTag("gen_ai.usage.output_tokens", _generated.Count);
        _activity?.SetTag("gen_ai.response.finish_reasons", reason);
    }

    private bool IsEos(int token)
    {
        for (int i = 0; i < _eos.Count; i++)
        {
            if (_eos[i] == token)
            {
                return true;
            }
        }

        return false;
    }
}
