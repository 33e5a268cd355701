using LlmKit.Generation;
using LlmKit.Models;
using LlmKit.Testing;
using Microsoft.ML.OnnxRuntimeGenAI;

namespace LlmKit.Oracle.Tests;

/// <summary>LlmKit's beam search returns the same sequences as onnxruntime-genai 0.20.0 on the same folder.</summary>
public class BeamSearchTests
{
    private static int[][] OfficialBeams(OfficialRuntime official, int[] prompt, int maxLength, int beams, int returned, double lengthPenalty, bool earlyStopping, int minLength = 0)
        => official.GenerateMany(prompt, maxLength, returned, p =>
        {
            p.SetSearchOption("num_beams", beams);
            p.SetSearchOption("num_return_sequences", returned);
            p.SetSearchOption("length_penalty", lengthPenalty);
            p.SetSearchOption("early_stopping", earlyStopping);
            if (minLength > 0)
            {
                p.SetSearchOption("min_length", minLength);
            }
        });

    private static int[][] OurBeams(OnnxGenAIModel model, int[] prompt, int maxLength, int beams, int returned, float lengthPenalty, bool earlyStopping, int minLength = 0)
        => [.. model.BeamSearch(prompt, new GenerationOptions
        {
            MaxNewTokens = maxLength - prompt.Length,
            NumBeams = beams,
            NumReturnSequences = returned,
            LengthPenalty = lengthPenalty,
            EarlyStopping = earlyStopping,
            MinNewTokens = Math.Max(0, minLength - prompt.Length),
        }).Select(s => s.TokenIds.ToArray())];

    [Theory]
    [InlineData("official-fp32", 4, 4, 1.0, true)]
    [InlineData("official-fp32", 3, 2, 0.6, false)]
    [InlineData("standard-fp32", 2, 1, 1.0, true)]
    [InlineData("official-int4", 4, 2, 1.2, true)]
    [InlineData("synthetic-gqa-official", 5, 3, 1.0, false)]
    public void Beams_run_to_max_length_like_the_official_runtime(string form, int beams, int returned, double lengthPenalty, bool earlyStopping)
    {
        string folder = BuilderFormTests.FolderFor(form);
        using var official = new OfficialRuntime(folder);
        using var model = LlmKitRuntime.Load(folder);
        foreach (var prompt in BuilderFormTests.PromptsFor(model, form).Take(3))
        {
            int maxLength = prompt.Length + 40;
            var expected = OfficialBeams(official, prompt, maxLength, beams, returned, lengthPenalty, earlyStopping);
            var actual = OurBeams(model, prompt, maxLength, beams, returned, (float)lengthPenalty, earlyStopping);

            Assert.Equal(expected.Length, actual.Length);
            for (int i = 0; i < expected.Length; i++)
            {
                Assert.Equal(expected[i], actual[i]);
            }
        }
    }

    [Theory]
    [InlineData(4, 4, 1.0, true)]
    [InlineData(4, 2, 1.0, false)]
    [InlineData(3, 3, 0.5, false)]
    [InlineData(3, 1, 2.0, true)]
    public void Beams_that_reach_end_of_sequence_finish_like_the_official_runtime(int beams, int returned, double lengthPenalty, bool earlyStopping)
    {
        // A folder whose EOS is a token greedy decoding produces after ten steps: hypotheses finish, and early stopping
        // and the length penalty decide which win.
        using var folder = SearchOptionTests.FolderEndingEarly(out int[] prompt, out int naturalLength);
        using var official = new OfficialRuntime(folder.Path);
        using var model = LlmKitRuntime.Load(folder.Path);
        int maxLength = naturalLength + 30;

        var expected = OfficialBeams(official, prompt, maxLength, beams, returned, lengthPenalty, earlyStopping);
        var actual = OurBeams(model, prompt, maxLength, beams, returned, (float)lengthPenalty, earlyStopping);

        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i], actual[i]);
        }

        // At least one returned sequence ended before max length, or EOS handling went untested.
        Assert.Contains(expected, s => s.Length < maxLength);
    }
}
