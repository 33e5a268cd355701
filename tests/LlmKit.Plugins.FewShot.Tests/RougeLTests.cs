using LlmKit.Plugins.FewShot.Metrics;

namespace LlmKit.Plugins.FewShot.Tests;

public class RougeLTests
{
    // Expected values are worked out by hand from the definition: P = LCS/|candidate|, R = LCS/|reference|, F1 = 2PR/(P+R).
    // Tolerance 1e-12: the computation is a few double divisions.
    [Theory]
    [InlineData("the cat sat on the mat", "the cat lay on the mat", 5.0 / 6, 5.0 / 6, 5.0 / 6)]            // LCS "the cat on the mat"
    [InlineData("the gunman kill police", "police killed the gunman", 0.5, 0.5, 0.5)]                       // Lin (2004): LCS "the gunman"
    [InlineData("a b c d", "a c", 0.5, 1.0, 2 * 0.5 * 1.0 / 1.5)]                                          // LCS "a c"
    [InlineData("Hello, World!", "hello world", 1.0, 1.0, 1.0)]                                            // case and punctuation ignored
    [InlineData("one two three", "four five", 0.0, 0.0, 0.0)]
    public void Scores_match_hand_computed_values(string candidate, string reference, double precision, double recall, double f1)
    {
        var score = RougeL.Score(candidate, reference);
        Assert.Equal(precision, score.Precision, 12);
        Assert.Equal(recall, score.Recall, 12);
        Assert.Equal(f1, score.F1, 12);
    }

    [Fact]
    public void Empty_text_scores_zero_and_f1_is_symmetric()
    {
        Assert.Equal(default, RougeL.Score("", "something"));
        Assert.Equal(default, RougeL.Score("!!!", "something"));
        var ab = RougeL.Score("write a poem about the sea", "write a short story about a sea captain");
        var ba = RougeL.Score("write a short story about a sea captain", "write a poem about the sea");
        Assert.Equal(ab.F1, ba.F1, 12);
        Assert.Equal(ab.Precision, ba.Recall, 12);
    }

    [Fact]
    public void Lcs_of_token_lists()
    {
        Assert.Equal(4, RougeL.LongestCommonSubsequence(["a", "b", "c", "b", "d", "a", "b"], ["b", "d", "c", "a", "b", "a"])); // classic CLRS example: "bcba"
        Assert.Equal(0, RougeL.LongestCommonSubsequence([], ["a"]));
        Assert.Equal(["héllo", "wörld", "42"], RougeL.Tokenize("Héllo, WÖRLD... 42"));
    }
}
