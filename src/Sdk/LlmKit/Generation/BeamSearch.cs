using LlmKit.Models;

namespace LlmKit.Generation;

/// <summary>One sequence a beam search returns.</summary>
/// <param name="TokenIds">Prompt and generated ids (an end-of-sequence token is not included), as onnxruntime-genai returns them.</param>
/// <param name="PromptLength">How many of <paramref name="TokenIds"/> are the prompt.</param>
/// <param name="Score">sum(log p of the generated tokens) / length^length_penalty.</param>
/// <param name="FinishReason">EndOfSequence when the beam chose EOS, else MaxNewTokens or ContextLength.</param>
public sealed record BeamSequence(IReadOnlyList<int> TokenIds, int PromptLength, float Score, GenerationFinishReason FinishReason)
{
    /// <summary>The generated ids (prompt excluded).</summary>
    public IReadOnlyList<int> GeneratedTokenIds => TokenIds.Skip(PromptLength).ToArray();
}

/// <summary>
/// Beam search as onnxruntime-genai (and Hugging Face's BeamSearchScorer) does it: each step, every beam's logits pass the
/// logits processors (min length, repetition penalty, no-repeat n-gram), become log-probabilities and are added to the
/// beam's score; the best 2 x beams candidates are taken in order, an end-of-sequence candidate among the first
/// <c>num_beams</c> finishes a hypothesis, the others continue as the next beams. One KV state per beam; a beam taking over
/// another's sequence copies its cache.
/// </summary>
/// <remarks>Not thread-safe; runs the beams one after another (batch 1 each).</remarks>
internal sealed class BeamSearch : IDisposable
{
    private readonly OnnxGenAIModel _model;
    private readonly GenerationOptions _options;
    private readonly int _beams;
    private readonly int _vocab;
    private readonly int _maxLength;
    private readonly int _promptLength;
    private readonly int[] _eos;
    private readonly float _lengthPenalty;
    private readonly bool _earlyStopping;
    private readonly LogitsPipeline _pipeline;
    private readonly List<DecoderState> _states = [];
    private readonly List<(int[] Tokens, float Score, bool Eos)> _hypotheses = [];

    public BeamSearch(OnnxGenAIModel model, ReadOnlySpan<int> prompt, GenerationOptions resolved)
    {
        _model = model;
        _options = resolved;
        _beams = resolved.NumBeams ?? 1;
        _vocab = model.VocabularySize;
        _promptLength = prompt.Length;
        _maxLength = Math.Min(model.MaxLength, prompt.Length + (resolved.MaxNewTokens ?? model.MaxLength));
        _eos = model.Config.Model.EosTokenIds;
        _lengthPenalty = resolved.LengthPenalty ?? 1f;
        _earlyStopping = resolved.EarlyStopping ?? true;
        _pipeline = LogitsPipeline.Create(resolved with { Temperature = 0, TopK = null, TopP = null, MinP = null }, _vocab, _eos);
        Prompt = prompt.ToArray();
    }

    private int[] Prompt { get; }

    public IReadOnlyList<BeamSequence> Run(CancellationToken cancellationToken)
    {
        var first = _model.RentState(Prompt, _model.AdapterFor(_options));
        _states.Add(first);
        int cached = first.Length;
        var prefill = first.Append(Prompt.AsSpan(cached), cancellationToken);

        // Beam i: its tokens, its score, its last logits. At the start one beam holds the prompt (the official runtime
        // starts all beams there with scores 0, -1e9, ...: only the first can be chosen from).
        var tokens = new List<int[]> { Prompt };
        var scores = new List<float> { 0f };
        var logits = new List<float[]> { prefill[^_vocab..].ToArray() };
        var scratch = new float[_vocab];
        bool done = false;
        int length = Prompt.Length;
        while (!done && length < _maxLength)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var candidates = TopCandidates(tokens, scores, logits, scratch);
            var next = new List<(int Parent, int Token, float Score)>(_beams);
            for (int rank = 0; rank < candidates.Count && next.Count < _beams; rank++)
            {
                var (parent, token, score) = candidates[rank];
                if (Array.IndexOf(_eos, token) >= 0)
                {
                    // An EOS ranked below the first num_beams candidates cannot finish a hypothesis.
                    if (rank < _beams)
                    {
                        AddHypothesis(tokens[parent], score, eos: true);
                    }
                }
                else
                {
                    next.Add((parent, token, score));
                }
            }

            done = IsDone(candidates[0].Score, length);
            if (done || next.Count == 0)
            {
                break;
            }

            length++;
            (tokens, scores, logits) = Advance(next, tokens, cancellationToken, length < _maxLength);
        }

        if (!done)
        {
            for (int b = 0; b < tokens.Count; b++)
            {
                AddHypothesis(tokens[b], scores[b], eos: false);
            }
        }

        int returned = Math.Min(_options.NumReturnSequences ?? 1, _hypotheses.Count);
        var finish = length >= _model.MaxLength ? GenerationFinishReason.ContextLength : GenerationFinishReason.MaxNewTokens;
        return [.. _hypotheses
            .OrderByDescending(h => h.Score)
            .Take(returned)
            .Select(h => new BeamSequence(h.Tokens, _promptLength, h.Score, h.Eos ? GenerationFinishReason.EndOfSequence : finish))];
    }

    /// <summary>The best 2 x beams (beam, token, score) over all beams, best first.</summary>
    private List<(int Parent, int Token, float Score)> TopCandidates(List<int[]> tokens, List<float> scores, List<float[]> logits, float[] scratch)
    {
        int k = 2 * _beams;
        var best = new List<(int Parent, int Token, float Score)>(k + 1);
        for (int b = 0; b < tokens.Count; b++)
        {
            logits[b].CopyTo(scratch, 0);
            foreach (var processor in _pipeline.Processors)
            {
                processor.Process(scratch, new TokenHistory(tokens[b], _promptLength));
            }

            LogSoftmax(scratch);
            for (int token = 0; token < _vocab; token++)
            {
                float score = scratch[token] + scores[b];
                if (best.Count == k && !(score > best[^1].Score))
                {
                    continue;
                }

                // Insertion keeps the list sorted; an equal score goes after the earlier (lower beam, lower id) one.
                int at = best.Count;
                while (at > 0 && best[at - 1].Score < score)
                {
                    at--;
                }

                best.Insert(at, (b, token, score));
                if (best.Count > k)
                {
                    best.RemoveAt(k);
                }
            }
        }

        return best;
    }

    private (List<int[]>, List<float>, List<float[]>) Advance(List<(int Parent, int Token, float Score)> next, List<int[]> tokens, CancellationToken cancellationToken, bool run)
    {
        // Each parent's state goes to its first child; other children of the same parent copy it.
        var owner = new DecoderState?[_states.Count];
        for (int i = 0; i < _states.Count; i++)
        {
            owner[i] = _states[i];
        }

        var states = new List<DecoderState>(next.Count);
        var spare = new Queue<DecoderState>(_states.Where((_, i) => !next.Any(n => n.Parent == i)));
        foreach (var (parent, _, _) in next)
        {
            if (owner[parent] is { } own)
            {
                states.Add(own);
                owner[parent] = null;
            }
            else
            {
                var copy = spare.Count > 0 ? spare.Dequeue() : new DecoderState(_model);
                copy.CopyFrom(_states[parent]);
                states.Add(copy);
            }
        }

        // Copies read their parent's state before any state appends below.
        var newTokens = new List<int[]>(next.Count);
        var newScores = new List<float>(next.Count);
        var newLogits = new List<float[]>(next.Count);
        for (int i = 0; i < next.Count; i++)
        {
            var (parent, token, score) = next[i];
            newTokens.Add([.. tokens[parent], token]);
            newScores.Add(score);
            newLogits.Add(run ? states[i].Append([token], cancellationToken).ToArray() : []);
        }

        foreach (var unused in spare)
        {
            _model.ReturnState(unused);
        }

        _states.Clear();
        _states.AddRange(states);
        return (newTokens, newScores, newLogits);
    }

    private void AddHypothesis(int[] tokens, float sumLogProbs, bool eos)
    {
        float score = sumLogProbs / MathF.Pow(tokens.Length, _lengthPenalty);
        if (_hypotheses.Count < _beams || score > _hypotheses.Min(h => h.Score))
        {
            _hypotheses.Add((tokens, score, eos));
            if (_hypotheses.Count > _beams)
            {
                int worst = 0;
                for (int i = 1; i < _hypotheses.Count; i++)
                {
                    if (_hypotheses[i].Score < _hypotheses[worst].Score)
                    {
                        worst = i;
                    }
                }

                _hypotheses.RemoveAt(worst);
            }
        }
    }

    private bool IsDone(float bestSumLogProbs, int length)
    {
        if (_hypotheses.Count < _beams)
        {
            return false;
        }

        if (_earlyStopping)
        {
            return true;
        }

        float current = bestSumLogProbs / MathF.Pow(length, _lengthPenalty);
        return _hypotheses.Min(h => h.Score) >= current;
    }

    private static void LogSoftmax(Span<float> values)
    {
        float max = System.Numerics.Tensors.TensorPrimitives.Max(values);
        double sum = 0;
        foreach (float v in values)
        {
            sum += Math.Exp(v - max);
        }

        float log = max + (float)Math.Log(sum);
        System.Numerics.Tensors.TensorPrimitives.Subtract(values, log, values);
    }

    public void Dispose()
    {
        foreach (var state in _states)
        {
            _model.ReturnState(state);
        }

        _states.Clear();
    }
}
