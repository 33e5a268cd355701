using System.Text.Json.Nodes;
using LlmKit.Plugins.Ordinal.Heads;
using LlmKit.Plugins.Ordinal.Persistence;
using LlmKit.Plugins.Ordinal.Training;

namespace LlmKit.Plugins.Ordinal.Tests;

public class PersistenceTests
{
    private static readonly OrdinalDataset Data =
        SyntheticData.ProportionalOdds(300, [1f, -0.5f, 0.25f, 0.1f], [-1f, 0f, 1f], CumulativeLinkFunction.Logit, seed: 12);

    public static TheoryData<OrdinalHeadKind, CumulativeLinkFunction, int> Heads => new()
    {
        { OrdinalHeadKind.Coral, CumulativeLinkFunction.Logit, 0 },
        { OrdinalHeadKind.Corn, CumulativeLinkFunction.Logit, 6 },
        { OrdinalHeadKind.CumulativeLink, CumulativeLinkFunction.Logit, 0 },
        { OrdinalHeadKind.CumulativeLink, CumulativeLinkFunction.Probit, 6 },
    };

    [Theory]
    [MemberData(nameof(Heads))]
    public async Task Saved_and_loaded_model_predicts_bit_identically(OrdinalHeadKind kind, CumulativeLinkFunction link, int hidden)
    {
        var model = Train(kind, link, hidden);
        string path = Path.Combine(Path.GetTempPath(), $"ordinal-{Guid.NewGuid():N}.json");
        try
        {
            await OrdinalModelSerializer.SaveToFileAsync(model, path);
            var loaded = await OrdinalModelSerializer.LoadFromFileAsync(path);

            Assert.Equal(model.LabelNames, loaded.LabelNames);
            Assert.Equal(model.Head.GetType(), loaded.Head.GetType());
            Assert.Equal(model.Standardizer!.Mean.ToArray(), loaded.Standardizer!.Mean.ToArray());
            for (int r = 0; r < Data.RowCount; r++)
            {
                Assert.Equal(model.Predict(Data.GetRow(r)).Exceedance.ToArray(), loaded.Predict(Data.GetRow(r)).Exceedance.ToArray());
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Newer_format_version_is_refused_with_upgrade_hint()
    {
        var json = JsonNode.Parse(OrdinalModelSerializer.ToJson(Train(OrdinalHeadKind.Coral)))!;
        json["format_version"] = OrdinalModelSerializer.CurrentFormatVersion + 1;
        var error = Assert.Throws<NotSupportedException>(() => OrdinalModelSerializer.FromJson(json.ToJsonString()));
        Assert.Contains("format version 2", error.Message, StringComparison.Ordinal);
        Assert.Contains("newer", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Corrupt_files_fail_with_InvalidDataException_saying_what_is_wrong()
    {
        string good = OrdinalModelSerializer.ToJson(Train(OrdinalHeadKind.Coral));

        var truncated = Assert.Throws<InvalidDataException>(() => OrdinalModelSerializer.FromJson(good[..(good.Length / 2)]));
        Assert.Contains("not valid JSON", truncated.Message, StringComparison.Ordinal);

        var wrongFormat = Mutate(good, j => j["format"] = "something-else");
        Assert.Contains("Not an ordinal model file", Assert.Throws<InvalidDataException>(() => OrdinalModelSerializer.FromJson(wrongFormat)).Message, StringComparison.Ordinal);

        var missing = Mutate(good, j => j.AsObject().Remove("weights"));
        Assert.Contains("\"weights\"", Assert.Throws<InvalidDataException>(() => OrdinalModelSerializer.FromJson(missing)).Message, StringComparison.Ordinal);

        var shortWeights = Mutate(good, j => j["weights"]!.AsArray().RemoveAt(0));
        Assert.Contains("\"input_dimension\" is 4 but the stored weights fit 3", Assert.Throws<InvalidDataException>(() => OrdinalModelSerializer.FromJson(shortWeights)).Message, StringComparison.Ordinal);

        var unordered = Mutate(good, j =>
        {
            var t = j["thresholds"]!.AsArray();
            t[0] = -5f;
            t[1] = 5f;
        });
        Assert.Contains("non-increasing", Assert.Throws<InvalidDataException>(() => OrdinalModelSerializer.FromJson(unordered)).Message, StringComparison.Ordinal);

        var tooFewLabels = Mutate(good, j => j["labels"]!.AsArray().RemoveAt(0));
        Assert.Contains("label names", Assert.Throws<InvalidDataException>(() => OrdinalModelSerializer.FromJson(tooFewLabels)).Message, StringComparison.Ordinal);

        var unknownHead = Mutate(good, j => j["head"] = "softmax");
        Assert.Contains("Unknown head", Assert.Throws<InvalidDataException>(() => OrdinalModelSerializer.FromJson(unknownHead)).Message, StringComparison.Ordinal);

        var badScale = Mutate(good, j => j["standardizer"]!["scale"]![0] = -1f);
        Assert.Contains("column 0", Assert.Throws<InvalidDataException>(() => OrdinalModelSerializer.FromJson(badScale)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Missing_file_and_corrupt_file_name_the_path()
    {
        string path = Path.Combine(Path.GetTempPath(), $"ordinal-{Guid.NewGuid():N}.json");
        await Assert.ThrowsAsync<FileNotFoundException>(() => OrdinalModelSerializer.LoadFromFileAsync(path));
        await File.WriteAllTextAsync(path, "{ \"format\": ");
        try
        {
            var error = await Assert.ThrowsAsync<InvalidDataException>(() => OrdinalModelSerializer.LoadFromFileAsync(path));
            Assert.Contains(path, error.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static OrdinalModel Train(OrdinalHeadKind kind, CumulativeLinkFunction link = CumulativeLinkFunction.Logit, int hidden = 0) =>
        new OrdinalTrainer(new OrdinalTrainerOptions { Head = kind, Link = link, HiddenUnits = hidden, Epochs = 5, Seed = 1 }).Train(Data).Model;

    private static string Mutate(string json, Action<JsonNode> change)
    {
        var node = JsonNode.Parse(json)!;
        change(node);
        return node.ToJsonString();
    }
}
