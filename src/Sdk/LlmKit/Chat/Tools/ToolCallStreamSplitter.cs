using LlmKit.Chat.Templates;

namespace LlmKit.Chat.Tools;

/// <summary>
/// Splits streamed text into what can be shown as text now and calls: text is released as soon as it cannot be part of
/// the format's marker; from the marker on, the text is held, each call object is handed out as soon as it is complete
/// (<see cref="TakeCompletedCalls"/>), and the rest is parsed at the end. Not thread-safe (one per stream).
/// </summary>
internal sealed class ToolCallStreamSplitter
{
    private readonly ToolCallFormat _format;
    private readonly System.Text.StringBuilder _held = new();
    private readonly List<ChatTemplateToolCall> _completed = [];
    private bool _inCalls;
    private int _scanFrom = -1;
    private int _taken;

    public ToolCallStreamSplitter(ToolCallFormat format) => _format = format;

    /// <summary>Adds generated text; returns the part that is certainly plain text (possibly empty).</summary>
    public string Push(string delta)
    {
        _held.Append(delta);
        if (_inCalls)
        {
            ScanCalls();
            return "";
        }

        string held = _held.ToString();
        int marker = held.IndexOf(_format.Marker, StringComparison.Ordinal);
        if (marker >= 0)
        {
            _inCalls = true;
            _held.Remove(0, marker);
            ScanCalls();
            return held[..marker];
        }

        // Keep the longest tail that could still grow into the marker.
        int keep = Math.Min(held.Length, _format.Marker.Length - 1);
        while (keep > 0 && !_format.Marker.StartsWith(held[^keep..], StringComparison.Ordinal))
        {
            keep--;
        }

        _held.Remove(0, held.Length - keep);
        return held[..^keep];
    }

    /// <summary>Calls whose JSON object has been completed since the last take, in order.</summary>
    public IReadOnlyList<ChatTemplateToolCall> TakeCompletedCalls()
    {
        if (_taken == _completed.Count)
        {
            return [];
        }

        var calls = _completed.GetRange(_taken, _completed.Count - _taken);
        _taken = _completed.Count;
        return calls;
    }

    /// <summary>
    /// At the end of generation: all calls (those handed out keep their ids) and any text that is not a call. When the
    /// held text does not parse as calls it all comes back as text.
    /// </summary>
    public ToolCallParseResult Finish()
    {
        string held = _held.ToString();
        _held.Clear();
        if (!_inCalls)
        {
            return new ToolCallParseResult(held, []);
        }

        var parsed = _format.Parse(held);
        if (parsed.Calls.Count < _completed.Count)
        {
            return parsed;
        }

        var calls = new List<ChatTemplateToolCall>(parsed.Calls);
        for (int i = 0; i < _completed.Count; i++)
        {
            calls[i] = _completed[i];
        }

        return parsed with { Calls = calls };
    }

    /// <summary>Reads the call objects completed so far: each starts at the next '{' after the previous one.</summary>
    private void ScanCalls()
    {
        string held = _held.ToString();
        if (_scanFrom < 0)
        {
            // The marker may reach into the first call object (Llama 3.1's does): then the object starts at 0.
            _scanFrom = _format.Opening.Length == 0 ? 0 : Math.Min(held.Length, _format.Marker.Length);
        }

        while (true)
        {
            int start = held.IndexOf('{', _scanFrom);
            if (start < 0 || !JsonText.TryReadValue(held, start, out var value, out int end))
            {
                return; // not complete yet
            }

            _scanFrom = end;
            if (_format.ReadCallObject(value) is { } call)
            {
                _completed.Add(call);
            }
        }
    }
}
