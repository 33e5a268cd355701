using LlmKit.Models;

namespace LlmKit.Generation;

/// <summary>
/// Drafts tokens greedily (arg-max of the raw logits) with a draft model that keeps its own KV state across steps.
/// Each call first brings the state in line with the sequence: the longest common prefix of what the state holds and
/// the sequence is kept (drafts the target rejected are truncated away) and the rest is appended. Allocation-free.
/// </summary>
/// <remarks>Not thread-safe: one per generator. The draft length adapts like <see cref="PromptLookupDrafter"/>'s.</remarks>
internal sealed class DraftModelDrafter : ITokenDrafter
{
    private readonly OnnxGenAIModel _model;
    private readonly DecoderState _state;
    private readonly int[] _eos;
    private readonly int _draftTokens;
    private bool _disposed;

    public DraftModelDrafter(DraftModelOptions options, ReadOnlySpan<int> prompt)
    {
        _model = options.Model;
        _draftTokens = options.DraftTokens;
        NextLength = options.DraftTokens;
        _eos = _model.Config.Model.EosTokenIds;
        _state = _model.RentState(prompt);
    }

    public int NextLength { get; private set; }

    public void Record(int drafted, int accepted) =>
        NextLength = accepted == drafted ? Math.Min(_draftTokens, NextLength + 2) : Math.Min(_draftTokens, accepted + 1);

    public int Draft(ReadOnlySpan<int> sequence, Span<int> drafts, CancellationToken cancellationToken)
    {
        // The state ends holding the sequence and all drafts but the last: keep that inside the draft model's capacity.
        int count = Math.Min(drafts.Length, _state.Capacity - sequence.Length + 1);
        if (count <= 0)
        {
            return 0;
        }

        // Re-feed at least the last token: its logits give the first draft.
        int kept = Math.Min(sequence.CommonPrefixLength(_state.Tokens), sequence.Length - 1);
        _state.Truncate(kept);
        int vocab = _model.VocabularySize;
        Span<float> logits = _state.Append(sequence[kept..], cancellationToken);
        for (int i = 0; ; i++)
        {
            drafts[i] = ArgMax(logits[^vocab..]);
            if (i + 1 == count || Array.IndexOf(_eos, drafts[i]) >= 0)
            {
                return i + 1; // nothing follows an end-of-sequence token
            }

            logits = _state.Append(drafts.Slice(i, 1), cancellationToken);
        }
    }

    public void Dispose()
    {
        if (!_disposed)
        {
            _disposed = true;
            _model.ReturnState(_state);
        }
    }

    private static int ArgMax(ReadOnlySpan<float> logits)
    {
        int best = 0;
        for (int i = 1; i < logits.Length; i++)
        {
            if (logits[i] > logits[best])
            {
                best = i;
            }
        }

        return best;
    }
}
