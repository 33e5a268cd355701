using System.Text;

namespace LlmKit.Generation;

/// <summary>
/// Finds stop sequences in streamed text across token boundaries. Text that could still be the start of a stop
/// sequence is held back, so a stop sequence is never emitted, not even in part.
/// </summary>
/// <remarks>Not thread-safe: one instance per sequence.</remarks>
public sealed class StopSequenceMatcher
{
    private readonly string[] _stops;
    private readonly StringBuilder _pending = new();

    /// <summary>Creates a matcher for <paramref name="stopSequences"/> (null or empty: passes text through).</summary>
    public StopSequenceMatcher(IReadOnlyList<string>? stopSequences)
    {
        _stops = stopSequences is null ? [] : stopSequences.Where(s => !string.IsNullOrEmpty(s)).ToArray();
    }

    /// <summary>True once a stop sequence has been seen; later text is ignored.</summary>
    public bool Stopped { get; private set; }

    /// <summary>Adds new text; returns the text that is safe to emit now (possibly empty).</summary>
    public string Push(ReadOnlySpan<char> text)
    {
        if (Stopped || text.IsEmpty)
        {
            return "";
        }

        if (_stops.Length == 0)
        {
            return text.ToString();
        }

        _pending.Append(text);
        string pending = _pending.ToString();
        int stopAt = -1;
        foreach (var stop in _stops)
        {
            int index = pending.IndexOf(stop, StringComparison.Ordinal);
            if (index >= 0 && (stopAt < 0 || index < stopAt))
            {
                stopAt = index;
            }
        }

        if (stopAt >= 0)
        {
            Stopped = true;
            _pending.Clear();
            return pending[..stopAt];
        }

        int held = LongestSuffixThatStartsAStop(pending);
        _pending.Clear();
        _pending.Append(pending, pending.Length - held, held);
        return pending[..(pending.Length - held)];
    }

    /// <summary>Returns everything still held back (call when generation ends for another reason).</summary>
    public string Flush()
    {
        if (Stopped)
        {
            return "";
        }

        string rest = _pending.ToString();
        _pending.Clear();
        return rest;
    }

    private int LongestSuffixThatStartsAStop(string text)
    {
        int best = 0;
        foreach (var stop in _stops)
        {
            for (int length = Math.Min(stop.Length - 1, text.Length); length > best; length--)
            {
                if (text.AsSpan(text.Length - length).SequenceEqual(stop.AsSpan(0, length)))
                {
                    best = length;
                    break;
                }
            }
        }

        return best;
    }
}
