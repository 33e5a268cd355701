using LlmKit.Generation;
using LlmKit.Models;
using LlmKit.Testing;

namespace LlmKit.Oracle.Tests;

/// <summary>The search options both runtimes implement give the same ids on the same folder.</summary>
public class SearchOptionTests
{
    private static string Folder => BuilderFormTests.FolderFor("official-fp32");

    private static int[] Prompt(OnnxGenAIModel model) => model.Tokenizer.Encode("Once upon a time, there was a little girl");

    [Theory]
    [InlineData(1.1)]
    [InlineData(1.5)]
    public void Repetition_penalty(double penalty)
    {
        using var official = new OfficialRuntime(Folder);
        using var model = LlmKitRuntime.Load(Folder);
        int[] prompt = Prompt(model);
        int maxLength = prompt.Length + 100;

        int[] expected = official.Generate(prompt, maxLength, p => p.SetSearchOption("repetition_penalty", penalty));
        int[] actual = LlmKitRuntime.Generate(model, prompt, maxLength, new GenerationOptions { Temperature = 0, RepetitionPenalty = (float)penalty });

        Assert.Equal(expected, actual);
        Assert.NotEqual(official.Generate(prompt, maxLength), expected); // the penalty must change the output, or this proves nothing
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void No_repeat_ngram_size(int size)
    {
        using var official = new OfficialRuntime(Folder);
        using var model = LlmKitRuntime.Load(Folder);
        int[] prompt = Prompt(model);
        int maxLength = prompt.Length + 100;

        int[] expected = official.Generate(prompt, maxLength, p => p.SetSearchOption("no_repeat_ngram_size", size));
        int[] actual = LlmKitRuntime.Generate(model, prompt, maxLength, new GenerationOptions { Temperature = 0, NoRepeatNGramSize = size });

        Assert.Equal(expected, actual);
        Assert.NotEqual(official.Generate(prompt, maxLength), expected);
    }

    [Fact]
    public void Top_k_1_with_sampling_is_greedy_in_both()
    {
        using var official = new OfficialRuntime(Folder);
        using var model = LlmKitRuntime.Load(Folder);
        int[] prompt = Prompt(model);
        int maxLength = prompt.Length + 100;

        int[] expected = official.Generate(prompt, maxLength, p =>
        {
            p.SetSearchOption("do_sample", true);
            p.SetSearchOption("top_k", 1);
            p.SetSearchOption("temperature", 0.8);
        });
        int[] actual = LlmKitRuntime.Generate(model, prompt, maxLength, new GenerationOptions { Temperature = 0.8f, TopK = 1, Seed = 3 });

        Assert.Equal(expected, actual);
        Assert.Equal(official.Generate(prompt, maxLength), expected);
    }

    [Fact]
    public void Min_length_keeps_end_of_sequence_away_in_both()
    {
        using var folder = FolderEndingEarly(out int[] prompt, out int naturalLength);
        using var official = new OfficialRuntime(folder.Path);
        using var model = LlmKitRuntime.Load(folder.Path);
        int minLength = naturalLength + 30;
        int maxLength = naturalLength + 80;

        Assert.Equal(naturalLength, official.Generate(prompt, maxLength).Length); // without min_length: ends early
        int[] expected = official.Generate(prompt, maxLength, p => p.SetSearchOption("min_length", minLength));
        int[] actual = LlmKitRuntime.Generate(model, prompt, maxLength, new GenerationOptions { Temperature = 0, MinNewTokens = minLength - prompt.Length });

        Assert.True(expected.Length >= minLength, $"the official runtime stopped at {expected.Length} < min_length {minLength}");
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void Min_length_from_genai_config_is_honoured_like_the_official_runtime()
    {
        // search.min_length in the folder (counting the prompt) applies when the caller sets no minimum.
        using var folder = FolderEndingEarly(out int[] prompt, out int naturalLength);
        int minLength = naturalLength + 30;
        folder.EditConfig(c => c["search"]!["min_length"] = minLength);

        using var official = new OfficialRuntime(folder.Path);
        using var model = LlmKitRuntime.Load(folder.Path);
        int[] expected = official.Generate(prompt, naturalLength + 80);

        Assert.True(expected.Length >= minLength);
        Assert.Equal(expected, LlmKitRuntime.Generate(model, prompt, naturalLength + 80));
    }

    /// <summary>
    /// stories260K rarely ends a story within a few hundred greedy tokens, so a copy of the folder declares as end of
    /// sequence the first token that greedy decoding produces fresh after ten steps: both runtimes then stop there unless
    /// a minimum length holds them back.
    /// </summary>
    internal static TempModelFolder FolderEndingEarly(out int[] prompt, out int naturalLength)
    {
        int[] ids;
        int[] free;
        using (var model = LlmKitRuntime.Load(Folder))
        {
            ids = Prompt(model);
            free = LlmKitRuntime.Generate(model, ids, ids.Length + 100);
        }

        int stop = Enumerable.Range(ids.Length + 10, free.Length - ids.Length - 10).First(i => Array.IndexOf(free, free[i]) == i);
        var folder = TempModelFolder.CopyOf(Folder);
        folder.EditConfig(c => c["model"]!["eos_token_id"] = free[stop]);
        prompt = ids;
        naturalLength = stop; // the sequence without the EOS token
        return folder;
    }
}
