using LlmKit.Generation;

namespace LlmKit.Tests.Generation;

public class StopSequenceMatcherTests
{
    [Fact]
    public void Stop_sequence_split_across_pushes_is_found_and_never_emitted()
    {
        var matcher = new StopSequenceMatcher(["</end>"]);
        string emitted = matcher.Push("Hello </");
        emitted += matcher.Push("en");
        emitted += matcher.Push("d> ignored");

        Assert.True(matcher.Stopped);
        Assert.Equal("Hello ", emitted);
        Assert.Equal("", matcher.Flush());
    }

    [Fact]
    public void Text_that_only_looked_like_a_stop_prefix_is_released()
    {
        var matcher = new StopSequenceMatcher(["STOP"]);
        Assert.Equal("a", matcher.Push("aST"));
        Assert.Equal("STx", matcher.Push("x"));
        Assert.Equal("", matcher.Push("S"));
        Assert.Equal("S", matcher.Flush());
        Assert.False(matcher.Stopped);
    }

    [Fact]
    public void Earliest_of_several_stop_sequences_wins()
    {
        var matcher = new StopSequenceMatcher(["bb", "ab"]);
        Assert.Equal("x", matcher.Push("xabb"));
        Assert.True(matcher.Stopped);
    }

    [Fact]
    public void Without_stop_sequences_text_passes_through()
    {
        var matcher = new StopSequenceMatcher(null);
        Assert.Equal("abc", matcher.Push("abc"));
    }
}
